// model/ssd: the MLPerf Training single-stage detector, SSD300 with a ResNet-34 backbone (Liu et
// al., "SSD: Single Shot MultiBox Detector", ECCV 2016; mlcommons/training
// single_stage_detector/ssd, ssd300.py and base_model.py): ResNet-34 through conv4_x with that
// stage's stride set to 1 (38x38 at 300x300), five extra blocks down to 1x1, 4/6/6/6/4/4 default
// boxes per location (8732), multibox loss with 3:1 hard negative mining; inference decodes,
// applies softmax, a score threshold, per-class NMS and keeps the best 200.
// FLOPs: ResNet's formula plus the extra blocks and heads; see docs/workloads/ssd.md.
#include <fmt/core.h>
#include <cmath>

#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "nn/quality_metrics.h"
#include "workloads/common/image_sets.h"
#include "workloads/model/model.h"
#include "workloads/model/vision/detection.h"
#include "workloads/model/vision/resnet.h"

namespace dlbench::model {
namespace {

/// One extra feature block: 1x1 conv to `mid`, ReLU, 3x3 conv to `out`, ReLU.
struct ExtraBlockShape {
  int64_t in, mid, out, stride, pad;
};

class SsdModel : public ModelWorkload {
 public:
  static WorkloadInfo info() {
    return quality_model_info(
        "model/ssd",
        "SSD300 with a ResNet-34 backbone (MLPerf Training single-stage detector): multibox "
        "loss with hard negative mining; inference with per-class NMS",
        {ParamSpec::integer("image", 0,
                            "input height = width (0: preset: 64 / 150 / 300; on the digit "
                            "canvases of mode=quality or input=loader: 64 / 64 / 300)",
                            0),
         ParamSpec::integer("width", 0,
                            "backbone stem channels; extra layers and heads scale with it (0: "
                            "preset: 8 / 32 / 64; on the digit canvases: 8 / 16 / 64)",
                            0),
         ParamSpec::integer("classes", 0,
                            "classes including background (0: preset: 5 / 81 / 81; the digit "
                            "canvases have 11)",
                            0),
         ParamSpec::choice("dataset", "mnist", {"mnist", "generated"},
                           "mode=quality / input=loader: canvases of real MNIST digits (`dlbench "
                           "data fetch mnist`) or of the generated 10-class patterns")});
  }

  explicit SsdModel(const Problem& problem)
      : ModelWorkload(problem),
        image_(param_or("image", task_data_ ? by_size<int64_t>(size_, 64, 64, 300)
                                            : by_size<int64_t>(size_, 64, 150, 300))),
        classes_(param_or("classes", task_data_ ? 11 : by_size<int64_t>(size_, 5, 81, 81))),
        dataset_(problem.get("dataset")) {
    if (classes_ < 2) throw Error("model/ssd: classes must be at least 2 (with background)");
    if (task_data_ && classes_ != 11) {
      throw Error("model/ssd: the digit canvases have 10 classes and the background: classes=11");
    }
    backbone_.depth = 34;
    backbone_.width = param_or("width", task_data_ ? by_size<int64_t>(size_, 8, 16, 64)
                                                   : by_size<int64_t>(size_, 8, 32, 64));
    backbone_.classes = 0;
    backbone_.stages = 3;
    backbone_.stage_strides = {1, 2, 1, 2};  // conv4_x at stride 1: 38x38 at 300x300 (MLPerf)
    ResNetFlops f = resnet_flops(backbone_, image_, image_);
    // MLPerf: out channels 256, 512, 512, 256, 256, 256; 1x1 reductions 256, 256, 128, 128, 128
    // (all at width 64; they scale with the width here).
    auto scaled = [&](int64_t c) { return c * backbone_.width / 64; };
    channels_ = {f.channels, scaled(512), scaled(512), scaled(256), scaled(256), scaled(256)};
    const int64_t mids[5] = {scaled(256), scaled(256), scaled(128), scaled(128), scaled(128)};
    sizes_ = {f.out_h};
    for (int64_t b = 0; b < 5; ++b) {
      int64_t in = sizes_.back();
      // The first three blocks are 3x3/2 pad 1; the last two 3x3 valid (5 -> 3 -> 1). At inputs
      // below 300 a map may already be smaller than 3: then pad 1 keeps its size.
      ExtraBlockShape shape{channels_[b], mids[b], channels_[b + 1], b < 3 ? 2 : 1,
                            b < 3 ? 1 : (in < 3 ? 1 : 0)};
      extras_shape_.push_back(shape);
      sizes_.push_back(conv_out(in, 3, shape.stride, shape.pad));
    }
    // Default boxes (MLPerf DefaultBoxes(300, [38,19,10,5,3,1], steps [8,16,32,64,100,300],
    // scales [21,45,99,153,207,261,315], ratios [[2],[2,3],[2,3],[2,3],[2],[2]])): centres on
    // image / step cells for the strided maps, on the map itself for the last two.
    const double scales[7] = {21, 45, 99, 153, 207, 261, 315};
    for (int64_t k = 0; k < 6; ++k) {
      DefaultBoxLevel level;
      level.feature_size = sizes_[k];
      level.cells = k < 4 ? static_cast<double>(image_) / static_cast<double>(8 << k)
                          : static_cast<double>(sizes_[k]);
      level.scale = scales[k] / 300.0;
      level.next_scale = scales[k + 1] / 300.0;
      level.ratios = (k == 0 || k >= 4) ? std::vector<double>{2} : std::vector<double>{2, 3};
      levels_.push_back(level);
      boxes_ += level.boxes_per_location() * sizes_[k] * sizes_[k];
    }
  }

  Flops analytic_flops() const override {
    ResNetFlops f = resnet_flops(backbone_, image_, image_);
    auto conv = [](int64_t size, int64_t cin, int64_t cout, int64_t k) {
      return 2.0 * static_cast<double>(size * size * cin * cout * k * k);
    };
    double forward = f.forward;
    for (size_t b = 0; b < extras_shape_.size(); ++b) {
      const ExtraBlockShape& s = extras_shape_[b];
      forward += conv(sizes_[b], s.in, s.mid, 1) + conv(sizes_[b + 1], s.mid, s.out, 3);
    }
    for (size_t k = 0; k < levels_.size(); ++k) {
      int64_t per = levels_[k].boxes_per_location();
      forward += conv(sizes_[k], channels_[k], per * 4, 3) +
                 conv(sizes_[k], channels_[k], per * classes_, 3);
    }
    return {forward, 3 * forward - f.stem};
  }

  ModelFacts model_facts() const override {
    ModelFacts f;
    f.summary = fmt::format(
        "SSD (MLPerf SSD-ResNet34), {}x{} RGB input, {} classes, {} default "
        "boxes",
        image_, image_, classes_, boxes_);
    f.preset_batch = task_data_ ? PresetBatch{8, 32, 32} : PresetBatch{2, 4, 32};
    f.optimizer = task_data_
                      ? "Adam, lr 1e-3 (digit canvases; not the reference's SGD schedule)"
                      : "SGD, lr 2.5e-3, momentum 0.9, weight decay 5e-4 (MLPerf SSD reference)";
    // No published parameter count: the MLPerf reference and the SSD paper state none (see
    // docs/workloads/ssd.md for this implementation's count at the full preset).
    return f;
  }

 protected:
  std::vector<std::pair<std::string, std::string>> facts() const override {
    std::string maps;
    for (size_t k = 0; k < sizes_.size(); ++k) {
      maps += fmt::format("{}{}x{}x{}", k ? ", " : "", channels_[k], sizes_[k], sizes_[k]);
    }
    return {{"input", fmt::format("3 x {} x {}", image_, image_)},
            {"backbone",
             fmt::format("ResNet-34 conv1..conv4_x (conv4_x stride 1), width {}", backbone_.width)},
            {"feature maps", maps},
            {"default boxes", fmt::format("{} (4/6/6/6/4/4 per location)", boxes_)},
            {"ground truth",
             task_data_ ? "digit canvases: the exact ink boxes of 1-3 digits"
                        : "1-4 random boxes per image, labels 1.." + std::to_string(classes_ - 1)},
            {"loss",
             "smooth L1 on matched boxes (IoU >= 0.5 or best box of a ground truth) + "
             "cross-entropy with 3:1 hard negative mining, per positive"},
            {"inference", "decode, softmax, score > 0.05, top 200 per class, NMS 0.5, best 200"}};
  }

  void build() override {
    backbone_net_ = net().register_module("backbone", ResNet(backbone_));
    for (size_t b = 0; b < extras_shape_.size(); ++b) {
      const ExtraBlockShape& s = extras_shape_[b];
      reduce_.push_back(
          net().register_module("extra" + std::to_string(b) + "_1x1",
                                torch::nn::Conv2d(torch::nn::Conv2dOptions(s.in, s.mid, 1))));
      expand_.push_back(net().register_module(
          "extra" + std::to_string(b) + "_3x3",
          torch::nn::Conv2d(
              torch::nn::Conv2dOptions(s.mid, s.out, 3).stride(s.stride).padding(s.pad))));
    }
    for (size_t k = 0; k < levels_.size(); ++k) {
      int64_t per = levels_[k].boxes_per_location();
      loc_.push_back(net().register_module(
          "loc" + std::to_string(k),
          torch::nn::Conv2d(torch::nn::Conv2dOptions(channels_[k], per * 4, 3).padding(1))));
      conf_.push_back(net().register_module(
          "conf" + std::to_string(k),
          torch::nn::Conv2d(torch::nn::Conv2dOptions(channels_[k], per * classes_, 3).padding(1))));
    }
    // MLPerf: Xavier-uniform weights for the extra layers and heads (biases keep their default).
    torch::NoGradGuard no_grad;
    for (auto* list : {&reduce_, &expand_, &loc_, &conf_}) {
      for (auto& conv : *list) torch::nn::init::xavier_uniform_(conv->weight);
    }
  }

  void make_batch() override {
    images_ = to_format(torch::randn({batch(), 3, image_, image_}, torch::device(device())));
    GroundTruth gt = random_ground_truth(batch(), 4, classes_ - 1, 1.0, 1.0, 0.1, 0.6, device());
    set_targets(gt);
  }

  /// Ground truth in [0, 1] image coordinates, matched to the default boxes once, as MLPerf's
  /// data pipeline does (Encoder.encode): IoU >= 0.5 or the best default box of a ground truth.
  void set_targets(const GroundTruth& gt) {
    if (!default_boxes_.defined()) default_boxes_ = ssd_default_boxes(levels_).to(device());
    Matches m = match_anchors(default_boxes_, gt.boxes, gt.valid, 0.5, 0.5, true);
    torch::Tensor positive = m.labels == 1;
    target_labels_ =
        torch::where(positive, gt.labels.gather(1, m.gt_index), torch::zeros_like(m.gt_index));
    torch::Tensor matched = gather_rows(gt.boxes, m.gt_index);
    torch::Tensor deltas = encode_boxes(matched, default_boxes_.unsqueeze(0), coding());
    target_deltas_ = torch::where(positive.unsqueeze(-1), deltas, torch::zeros_like(deltas))
                         .permute({0, 2, 1})
                         .contiguous();  // [N, 4, A]
  }

  std::unique_ptr<torch::optim::Optimizer> make_optimizer() override {
    // Digit canvases: Adam, so that a CPU trains the detector from scratch in minutes.
    if (task_data_) {
      return std::make_unique<torch::optim::Adam>(net().parameters(),
                                                  torch::optim::AdamOptions(1e-3));
    }
    return std::make_unique<torch::optim::SGD>(
        net().parameters(), torch::optim::SGDOptions(2.5e-3).momentum(0.9).weight_decay(5e-4));
  }

  torch::Tensor training_loss() override {
    auto [loc, conf] = heads(images_);
    // MLPerf's Loss: smooth L1 over positives + cross-entropy over positives and the 3 x
    // positives hardest negatives, per image divided by its positives, mean over the batch.
    torch::Tensor positive = target_labels_ > 0;
    torch::Tensor positives = positive.sum(1);
    torch::Tensor box_loss =
        (torch::smooth_l1_loss(loc, target_deltas_, at::Reduction::None).sum(1) *
         positive.to(torch::kFloat))
            .sum(1);
    torch::Tensor ce = torch::nn::functional::cross_entropy(
        conf, target_labels_,
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));  // [N, A]
    torch::Tensor negative_loss = ce.detach().masked_fill(positive, 0);
    torch::Tensor rank =
        std::get<1>(std::get<1>(negative_loss.sort(1, /*descending=*/true)).sort(1));
    torch::Tensor hard_negative =
        rank < torch::clamp_max(3 * positives, target_labels_.size(1)).unsqueeze(1);
    torch::Tensor class_loss =
        (ce * (positive.to(torch::kFloat) + hard_negative.to(torch::kFloat))).sum(1);
    torch::Tensor per_image = (box_loss + class_loss) * (positives > 0).to(torch::kFloat) /
                              positives.to(torch::kFloat).clamp_min(1e-6);
    return per_image.mean();
  }

  torch::Tensor inference() override { return detect(images_); }

  // --- Quality: digit detection on canvases of real digits, mAP at IoU 0.5 ---
  std::optional<QualitySpec> quality_spec() const override {
    QualitySpec spec;
    spec.task = "digit detection";
    spec.dataset = fmt::format(
        "{} x {} canvases of 1-3 {} digits (exact ink boxes): {} "
        "train from the train digits, {} held out from the test digits",
        image_, image_, dataset_ == "mnist" ? "MNIST" : "generated-pattern", canvases(true),
        canvases(false));
    spec.metric = "map";
    spec.unit = "%";
    spec.higher_is_better = true;
    spec.target = by_size(size_, 40.0, 55.0, 90.0);
    spec.target_source =
        size_ == Size::kFull
            ? "dlbench: a detector that finds 9 digits in 10 at IoU 0.5 (no published figure "
              "for digit canvases; MLPerf's COCO target does not transfer)"
            : "dlbench's CPU bar for SSD on digit canvases (docs/workloads/ssd.md)";
    spec.eval_every_epochs = size_ == Size::kTiny ? 1 : 0.5;
    spec.max_epochs = by_size(size_, 2.0, 8.0, 20.0);
    spec.eval_batch_size = 100;
    return spec;
  }

  std::pair<std::shared_ptr<const data::BatchSource>, std::shared_ptr<const data::BatchSource>>
  quality_data() override {
    common::CanvasOptions options;
    options.size = image_;
    options.min_side = image_ * 20 / 64;
    options.max_side = image_ / 2;
    auto digits = [&](bool train) {
      return dataset_ == "mnist" ? common::load_image_set("mnist", train)
                                 : common::generated_image_set(train ? 4096 : 1024, train, 0);
    };
    return {
        std::make_shared<common::DigitCanvasSource>(digits(true), options, canvases(true), 1),
        std::make_shared<common::DigitCanvasSource>(digits(false), options, canvases(false), 2)};
  }

  void use_batch(const data::Batch& batch) override {
    images_ = canvas_images(batch.tensors.at(0));
    set_targets(canvas_truth(batch));
  }

  void begin_scoring() override { map_ = nn::MeanAveragePrecision(classes_ - 1, 0.5); }
  void score_batch(const data::Batch& batch) override {
    torch::Tensor detections = detect(canvas_images(batch.tensors.at(0)));
    map_.add(detections, batch.tensors.at(1) / static_cast<double>(image_), batch.tensors.at(2));
  }
  double scored_quality() override { return map_.value(); }

 private:
  /// Canvases per split: the held-out split is fixed at 1,000 (200 at tiny).
  int64_t canvases(bool train) const {
    return train ? by_size<int64_t>(size_, 512, 16000, 60000)
                 : by_size<int64_t>(size_, 200, 1000, 1000);
  }

  /// Grey canvases [B, 1, S, S] in [0, 1] as the network's 3-channel input in [-1, 1].
  torch::Tensor canvas_images(const torch::Tensor& grey) const {
    return to_format((grey.to(device()) * 2 - 1).expand({-1, 3, -1, -1}).contiguous());
  }

  /// A canvas batch's boxes (scaled to [0, 1]) and classes (+1: 0 is the background).
  GroundTruth canvas_truth(const data::Batch& batch) const {
    GroundTruth gt;
    torch::Tensor classes = batch.tensors.at(2).to(device());
    gt.boxes = batch.tensors.at(1).to(device()) / static_cast<double>(image_);
    gt.valid = classes >= 0;
    gt.labels = torch::where(gt.valid, classes + 1, torch::zeros_like(classes));
    return gt;
  }

  /// Decoded, per-class NMS'ed detections [N, 200, 6] of images on the device.
  torch::Tensor detect(const torch::Tensor& images) {
    if (!default_boxes_.defined()) default_boxes_ = ssd_default_boxes(levels_).to(device());
    auto [loc, conf] = heads(images);
    torch::Tensor boxes =
        decode_boxes(loc.permute({0, 2, 1}), default_boxes_.unsqueeze(0), coding());
    torch::Tensor scores = torch::softmax(conf, 1).narrow(1, 1, classes_ - 1).permute({0, 2, 1});
    return detect_per_class(boxes, scores, 0.05, 0.5, 200, 200);
  }

  /// SSD's encoding: variances 0.1 (centre) and 0.2 (size), i.e. weights 10, 10, 5, 5.
  static BoxCoding coding() { return BoxCoding{10, 10, 5, 5}; }

  /// Box regressions [N, 4, A] and class logits [N, classes, A] (float32).
  std::pair<torch::Tensor, torch::Tensor> heads(const torch::Tensor& images) {
    std::vector<torch::Tensor> maps = {backbone_net_->features(images)};
    for (size_t b = 0; b < reduce_.size(); ++b) {
      torch::Tensor x = torch::relu(counted(reduce_[b], maps.back()));
      maps.push_back(torch::relu(counted(expand_[b], x)));
    }
    std::vector<torch::Tensor> locs, confs;
    const int64_t n = images.size(0);
    for (size_t k = 0; k < maps.size(); ++k) {
      // [N, per x 4, H, W] viewed as [N, 4, per H W], as MLPerf's bbox_view.
      locs.push_back(counted(loc_[k], maps[k]).contiguous().view({n, 4, -1}));
      confs.push_back(counted(conf_[k], maps[k]).contiguous().view({n, classes_, -1}));
    }
    return {torch::cat(locs, 2).to(torch::kFloat), torch::cat(confs, 2).to(torch::kFloat)};
  }

  ResNetConfig backbone_;
  int64_t image_, classes_;
  std::string dataset_;
  nn::MeanAveragePrecision map_{1};
  std::vector<int64_t> channels_, sizes_;
  std::vector<ExtraBlockShape> extras_shape_;
  std::vector<DefaultBoxLevel> levels_;
  int64_t boxes_ = 0;
  ResNet backbone_net_{nullptr};
  std::vector<torch::nn::Conv2d> reduce_, expand_, loc_, conf_;
  torch::Tensor images_, default_boxes_, target_labels_, target_deltas_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(SsdModel);

}  // namespace dlbench::model
