// Faster R-CNN with a ResNet-50-C4 backbone (Ren et al., NIPS 2015; He et al., CVPR 2016, the
// "ResNet Faster R-CNN"; Detectron's R-50-C4), shared by model/faster_rcnn (COCO) and model/ewa
// (HPC AI500 extreme weather analytics on 16-channel climate fields). Static shapes: fixed
// proposals and RoIs per image. FLOPs: faster_rcnn_flops; see docs/workloads/faster_rcnn.md.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "workloads/model/model.h"
#include "workloads/model/vision/resnet.h"

namespace dlbench::model {

/// One preset of a Faster R-CNN workload.
struct FasterRcnnPreset {
  int64_t batch = 1;                ///< images per step
  int64_t height = 64, width = 64;  ///< input size
  int64_t resnet_width = 64;        ///< ResNet stem channels (64: ResNet-50)
  int64_t classes = 80;             ///< foreground classes (the heads add background)
  std::vector<double> anchor_sizes = {128, 256, 512};    ///< x ratios 0.5, 1, 2
  int64_t pre_nms_train = 12000, post_nms_train = 2000;  ///< RPN proposals (training)
  int64_t pre_nms_test = 6000, post_nms_test = 1000;     ///< RPN proposals (inference)
  int64_t rpn_batch = 256;   ///< sampled anchors per image, up to half foreground
  int64_t roi_batch = 512;   ///< sampled RoIs per image, up to 25% foreground
  int64_t max_boxes = 4;     ///< ground-truth boxes per generated image: 1..max_boxes
  int64_t detections = 100;  ///< detections kept per image at inference
};

/// What distinguishes the workloads built on Faster R-CNN.
struct FasterRcnnSpec {
  std::string name;           ///< "model/faster_rcnn"
  std::string title;          ///< "Faster R-CNN R-50-C4 (COCO)"
  std::string input_kind;     ///< "RGB image", "climate fields"
  std::string classes_note;   ///< what the classes are
  std::string preset_source;  ///< where the full preset comes from
  int64_t in_channels = 3;
  std::string sample_unit = "images";  ///< what a sample is, plural ("images", "fields")
  FasterRcnnPreset tiny, small, full;
};

/// A spec whose tiny and small presets carry the scaled-down detector settings every Faster
/// R-CNN workload shares (ResNet width, anchor sizes, proposal and RoI counts, boxes per image);
/// a workload fills in its names, input channels, input sizes and classes.
FasterRcnnSpec scaled_down_spec();

/// The parameters a Faster R-CNN workload takes beyond the standard ones.
std::vector<ParamSpec> faster_rcnn_params(const FasterRcnnSpec& spec);

/// Analytic FLOPs per image (2 per multiply-accumulate): backbone, RPN, and `rois` times the
/// RoI head (conv5_x on a 14x14 RoI feature, box classifier and regressor).
struct FasterRcnnFlops {
  double backbone = 0, stem = 0, rpn = 0, head_per_roi = 0;
  int64_t feature_h = 0, feature_w = 0, feature_channels = 0;
};
FasterRcnnFlops faster_rcnn_flops(const ResNetConfig& backbone, int64_t height, int64_t width,
                                  int64_t anchors_per_location, int64_t classes);

/// The model: ResNet-50 conv1..conv4_x (stride 16, 1024 channels), an RPN (3x3 conv, objectness
/// and box deltas for 3 sizes x 3 ratios), proposals (decode, clip, top-k, NMS 0.7, top-k),
/// RoIAlign 14x14 (sampling ratio 2), conv5_x (stride 2) and average pool as the RoI head, then
/// classes + 1 scores and per-class boxes.
class FasterRcnnModel : public ModelWorkload {
 public:
  FasterRcnnModel(const Problem& problem, FasterRcnnSpec spec);

  Flops analytic_flops() const override;
  ModelFacts model_facts() const override;

 protected:
  std::vector<std::pair<std::string, std::string>> facts() const override;
  void build() override;
  void make_batch() override;
  std::unique_ptr<torch::optim::Optimizer> make_optimizer() override;
  torch::Tensor training_loss() override;
  torch::Tensor inference() override;

 private:
  struct RpnOutput {
    torch::Tensor features;    ///< [N, C4, Hf, Wf]
    torch::Tensor objectness;  ///< [N, Hf Wf A] logits (float)
    torch::Tensor deltas;      ///< [N, Hf Wf A, 4] (float)
  };
  RpnOutput backbone_and_rpn();
  /// Proposals [N, post, 4]: decode, clip, best `pre` by objectness, NMS 0.7, `post` kept.
  torch::Tensor proposals(const RpnOutput& rpn, int64_t pre, int64_t post);
  /// RoI head on rois [N, R, 4]: (class logits [N R, classes + 1], box deltas [N R, classes + 1,
  /// 4]), float.
  std::pair<torch::Tensor, torch::Tensor> head(const torch::Tensor& features,
                                               const torch::Tensor& rois);
  /// Samples `count` of the candidates labelled 1 (at most fg_fraction of count) and 0.
  torch::Tensor sample(const torch::Tensor& labels, int64_t count, double fg_fraction);

  FasterRcnnSpec spec_;
  FasterRcnnPreset preset_;
  ResNetConfig backbone_;
  std::vector<double> ratios_ = {0.5, 1.0, 2.0};
  int64_t feature_h_ = 0, feature_w_ = 0;
  ResNet backbone_net_{nullptr};
  torch::nn::Sequential res5_{nullptr};
  torch::nn::Conv2d rpn_conv_{nullptr}, rpn_objectness_{nullptr}, rpn_deltas_{nullptr};
  torch::nn::Linear cls_score_{nullptr}, bbox_pred_{nullptr};
  torch::Tensor images_, anchors_, gt_boxes_, gt_labels_, gt_valid_;
  torch::Tensor rpn_labels_, rpn_targets_;
};

}  // namespace dlbench::model
