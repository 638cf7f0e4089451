// model/faster_rcnn: Faster R-CNN (Ren, He, Girshick, Sun, "Faster R-CNN: Towards Real-Time
// Object Detection with Region Proposal Networks", NIPS 2015) with the ResNet-50-C4 design of He
// et al. ("Deep Residual Learning for Image Recognition", CVPR 2016, appendix A) as Detectron's
// e2e_faster_rcnn_R-50-C4 runs it on COCO; the shared implementation also serves model/ewa
// (ewa.cc). FLOPs: faster_rcnn_flops below; see docs/workloads/faster_rcnn.md.
#include "workloads/model/vision/faster_rcnn.h"

#include <fmt/core.h>
#include <algorithm>

#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "workloads/model/vision/detection.h"

namespace dlbench::model {

namespace {
constexpr int64_t kPooled = 14;               // RoIAlign output (C4 head: 14x14, conv5_x to 7x7)
constexpr int64_t kSamplingRatio = 2;         // bilinear samples per bin and axis
constexpr double kStride = 16;                // conv4_x feature stride
constexpr int64_t kCandidatesPerClass = 200;  // per-class NMS candidates at inference

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t pad) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).padding(pad));
}
}  // namespace

std::vector<ParamSpec> faster_rcnn_params(const FasterRcnnSpec& spec) {
  auto preset = [&](auto member) {
    return fmt::format("{} / {} / {}", spec.tiny.*member, spec.small.*member, spec.full.*member);
  };
  return {
      ParamSpec::integer("image_height", 0,
                         "input height (0: preset: " + preset(&FasterRcnnPreset::height) + ")", 0),
      ParamSpec::integer("image_width", 0,
                         "input width (0: preset: " + preset(&FasterRcnnPreset::width) + ")", 0),
      ParamSpec::integer("width", 0,
                         "ResNet stem channels, 64 = ResNet-50 (0: preset: " +
                             preset(&FasterRcnnPreset::resnet_width) + ")",
                         0),
      ParamSpec::integer(
          "classes", 0,
          "foreground classes (0: preset: " + preset(&FasterRcnnPreset::classes) + ")", 0),
      ParamSpec::integer("rois", 0,
                         "sampled RoIs per image in training (0: preset: " +
                             preset(&FasterRcnnPreset::roi_batch) + ")",
                         0),
      ParamSpec::integer("proposals", 0,
                         "post-NMS proposals per image at inference (0: preset: " +
                             preset(&FasterRcnnPreset::post_nms_test) + ")",
                         0),
  };
}

FasterRcnnFlops faster_rcnn_flops(const ResNetConfig& backbone, int64_t height, int64_t width,
                                  int64_t anchors_per_location, int64_t classes) {
  auto conv_flops = [](int64_t h, int64_t w, int64_t cin, int64_t cout, int64_t k) {
    return 2.0 * static_cast<double>(h * w * cin * cout * k * k);
  };
  ResNetFlops r = resnet_flops(backbone, height, width);
  FasterRcnnFlops f;
  f.backbone = r.forward;
  f.stem = r.stem;
  f.feature_h = r.out_h;
  f.feature_w = r.out_w;
  f.feature_channels = r.channels;
  const int64_t c4 = r.channels, a = anchors_per_location;
  f.rpn = conv_flops(r.out_h, r.out_w, c4, c4, 3) + conv_flops(r.out_h, r.out_w, c4, a, 1) +
          conv_flops(r.out_h, r.out_w, c4, 4 * a, 1);
  // conv5_x on a 14x14 RoI feature: bottleneck blocks of width 8w (512), output 32w (2048); the
  // first block strides its 3x3 conv and its projection (v1.5) to 7x7.
  const int64_t planes = backbone.width << 3, out = 4 * planes;
  const int64_t blocks = resnet_blocks(backbone.depth)[3];
  const int64_t s = conv_out(kPooled, 3, 2, 1);
  int64_t in = c4;
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t h_in = b == 0 ? kPooled : s;
    f.head_per_roi += conv_flops(h_in, h_in, in, planes, 1) + conv_flops(s, s, planes, planes, 3) +
                      conv_flops(s, s, planes, out, 1);
    if (b == 0) f.head_per_roi += conv_flops(s, s, in, out, 1);
    in = out;
  }
  f.head_per_roi += 2.0 * static_cast<double>(out * (classes + 1)) +
                    2.0 * static_cast<double>(out * 4 * (classes + 1));
  return f;
}

FasterRcnnModel::FasterRcnnModel(const Problem& problem, FasterRcnnSpec spec)
    : ModelWorkload(problem), spec_(std::move(spec)) {
  preset_ = by_size(size_, spec_.tiny, spec_.small, spec_.full);
  preset_.height = param_or("image_height", preset_.height);
  preset_.width = param_or("image_width", preset_.width);
  preset_.resnet_width = param_or("width", preset_.resnet_width);
  preset_.classes = param_or("classes", preset_.classes);
  preset_.roi_batch = param_or("rois", preset_.roi_batch);
  preset_.post_nms_test = param_or("proposals", preset_.post_nms_test);
  backbone_.depth = 50;
  backbone_.width = preset_.resnet_width;
  backbone_.in_channels = spec_.in_channels;
  backbone_.classes = 0;
  backbone_.stages = 3;  // C4: conv1..conv4_x, stride 16
  FasterRcnnFlops f = faster_rcnn_flops(backbone_, preset_.height, preset_.width, 1, 1);
  feature_h_ = f.feature_h;
  feature_w_ = f.feature_w;
  const int64_t anchors =
      feature_h_ * feature_w_ * static_cast<int64_t>(preset_.anchor_sizes.size() * ratios_.size());
  // Static shapes: top-k cannot ask for more than there is.
  preset_.pre_nms_train = std::min(preset_.pre_nms_train, anchors);
  preset_.pre_nms_test = std::min(preset_.pre_nms_test, anchors);
  preset_.post_nms_train = std::min(preset_.post_nms_train, preset_.pre_nms_train);
  preset_.post_nms_test = std::min(preset_.post_nms_test, preset_.pre_nms_test);
  if (preset_.roi_batch > preset_.post_nms_train + preset_.max_boxes) {
    throw Error(fmt::format("{}: rois={} exceeds the {} training proposals plus ground truth",
                            spec_.name, preset_.roi_batch, preset_.post_nms_train));
  }
  if (preset_.classes < 1) throw Error(spec_.name + ": classes must be at least 1");
}

ModelWorkload::Flops FasterRcnnModel::analytic_flops() const {
  const int64_t a = static_cast<int64_t>(preset_.anchor_sizes.size() * ratios_.size());
  FasterRcnnFlops f =
      faster_rcnn_flops(backbone_, preset_.height, preset_.width, a, preset_.classes);
  const double shared = f.backbone + f.rpn;
  // Every counted layer's input carries a gradient in training except the stem's (the images).
  const double train = shared + f.head_per_roi * static_cast<double>(preset_.roi_batch);
  const double infer = shared + f.head_per_roi * static_cast<double>(preset_.post_nms_test);
  return {infer, 3 * train - f.stem};
}

ModelFacts FasterRcnnModel::model_facts() const {
  ModelFacts f;
  f.summary =
      fmt::format("{}, {} x {} x {} {}, {} classes + background", spec_.title, spec_.in_channels,
                  preset_.height, preset_.width, spec_.input_kind, preset_.classes);
  f.sample_unit = spec_.sample_unit;
  f.preset_batch = {spec_.tiny.batch, spec_.small.batch, spec_.full.batch};
  f.optimizer = "SGD, lr 0.01, momentum 0.9, weight decay 1e-4 (Detectron R-50-C4)";
  return f;
}

std::vector<std::pair<std::string, std::string>> FasterRcnnModel::facts() const {
  std::string sizes;
  for (double s : preset_.anchor_sizes)
    sizes += fmt::format("{}{:g}", sizes.empty() ? "" : ", ", s);
  const int64_t c4 = backbone_.width * 16;
  return {
      {"input", fmt::format("{} x {} x {}", spec_.in_channels, preset_.height, preset_.width)},
      {"classes", spec_.classes_note},
      {"backbone", fmt::format("ResNet-50 conv1..conv4_x (C4), width {}: {} x {} x {} "
                               "features, stride 16",
                               backbone_.width, c4, feature_h_, feature_w_)},
      {"RPN", fmt::format("3x3 conv {}, objectness and box deltas for {} anchors per location "
                          "(sizes {} x ratios 0.5, 1, 2)",
                          c4, preset_.anchor_sizes.size() * ratios_.size(), sizes)},
      {"proposals", fmt::format("train: top {} -> NMS 0.7 -> {}; infer: top {} -> NMS 0.7 -> {}",
                                preset_.pre_nms_train, preset_.post_nms_train, preset_.pre_nms_test,
                                preset_.post_nms_test)},
      {"RoIs per image", fmt::format("train: {} sampled (<= 25% foreground); infer: {} "
                                     "proposals",
                                     preset_.roi_batch, preset_.post_nms_test)},
      {"RoI head",
       "RoIAlign 14x14 (sampling ratio 2, aligned) -> conv5_x (stride 2) -> "
       "average pool -> classes + 1 scores, per-class boxes"},
      {"loss",
       "RPN: sigmoid cross-entropy over 256 sampled anchors + smooth L1; head: "
       "softmax cross-entropy + smooth L1 on foreground RoIs"},
      {"inference", fmt::format("score > 0.05, per-class NMS 0.5 (best {} per class), best {}",
                                kCandidatesPerClass, preset_.detections)},
      {"ground truth", fmt::format("1-{} random boxes per image", preset_.max_boxes)},
      {"full preset", spec_.preset_source},
  };
}

void FasterRcnnModel::build() {
  backbone_net_ = net().register_module("backbone", ResNet(backbone_));
  const int64_t c4 = backbone_net_->feature_channels();
  const int64_t planes = backbone_.width << 3;
  res5_ = torch::nn::Sequential();
  int64_t in = c4;
  for (int64_t b = 0; b < resnet_blocks(backbone_.depth)[3]; ++b) {
    ResidualBlock block(in, planes, b == 0 ? 2 : 1, /*bottleneck=*/true);
    in = block->out_channels();
    res5_->push_back(block);
  }
  net().register_module("res5", res5_);
  init_conv_bn(*res5_);
  const int64_t a = static_cast<int64_t>(preset_.anchor_sizes.size() * ratios_.size());
  const int64_t outputs = preset_.classes + 1;
  rpn_conv_ = net().register_module("rpn_conv", conv(c4, c4, 3, 1));
  rpn_objectness_ = net().register_module("rpn_cls_logits", conv(c4, a, 1, 0));
  rpn_deltas_ = net().register_module("rpn_bbox_pred", conv(c4, 4 * a, 1, 0));
  cls_score_ = net().register_module("cls_score", torch::nn::Linear(in, outputs));
  bbox_pred_ = net().register_module("bbox_pred", torch::nn::Linear(in, 4 * outputs));
  // Detectron: Gaussian weights (std 0.01; 0.001 for the box regressor), zero biases.
  torch::NoGradGuard no_grad;
  for (auto* c : {&rpn_conv_, &rpn_objectness_, &rpn_deltas_}) {
    torch::nn::init::normal_((*c)->weight, 0, 0.01);
    torch::nn::init::zeros_((*c)->bias);
  }
  torch::nn::init::normal_(cls_score_->weight, 0, 0.01);
  torch::nn::init::zeros_(cls_score_->bias);
  torch::nn::init::normal_(bbox_pred_->weight, 0, 0.001);
  torch::nn::init::zeros_(bbox_pred_->bias);
}

void FasterRcnnModel::make_batch() {
  images_ = to_format(torch::randn({batch(), spec_.in_channels, preset_.height, preset_.width},
                                   torch::device(device())));
  anchors_ =
      grid_anchors(feature_h_, feature_w_, kStride, preset_.anchor_sizes, ratios_).to(device());
  GroundTruth gt = random_ground_truth(batch(), preset_.max_boxes, preset_.classes,
                                       static_cast<double>(preset_.height),
                                       static_cast<double>(preset_.width), 0.1, 0.5, device());
  gt_boxes_ = gt.boxes;
  gt_labels_ = gt.labels;
  gt_valid_ = gt.valid;
  // RPN targets depend on anchors and ground truth only: computed once, as Detectron's data
  // loader does (IoU >= 0.7 foreground, < 0.3 background, plus each ground truth's best anchor).
  Matches m = match_anchors(anchors_, gt_boxes_, gt_valid_, 0.7, 0.3, true);
  rpn_labels_ = m.labels;
  torch::Tensor targets =
      encode_boxes(gather_rows(gt_boxes_, m.gt_index), anchors_.unsqueeze(0), BoxCoding{});
  rpn_targets_ = torch::where((m.labels == 1).unsqueeze(-1), targets, torch::zeros_like(targets));
}

std::unique_ptr<torch::optim::Optimizer> FasterRcnnModel::make_optimizer() {
  return std::make_unique<torch::optim::SGD>(
      net().parameters(), torch::optim::SGDOptions(0.01).momentum(0.9).weight_decay(1e-4));
}

FasterRcnnModel::RpnOutput FasterRcnnModel::backbone_and_rpn() {
  RpnOutput out;
  out.features = backbone_net_->features(images_);
  torch::Tensor x = torch::relu(counted(rpn_conv_, out.features));
  const int64_t n = images_.size(0), h = out.features.size(2), w = out.features.size(3);
  const int64_t a = rpn_objectness_->weight.size(0);
  // [N, A, H, W] -> [N, H W A]; [N, 4A, H, W] -> [N, H W A, 4] (the anchors' order).
  out.objectness =
      counted(rpn_objectness_, x).permute({0, 2, 3, 1}).reshape({n, -1}).to(torch::kFloat);
  out.deltas = counted(rpn_deltas_, x)
                   .reshape({n, a, 4, h, w})
                   .permute({0, 3, 4, 1, 2})
                   .reshape({n, -1, 4})
                   .to(torch::kFloat);
  return out;
}

torch::Tensor FasterRcnnModel::proposals(const RpnOutput& rpn, int64_t pre, int64_t post) {
  torch::NoGradGuard no_grad;
  torch::Tensor boxes =
      clip_boxes(decode_boxes(rpn.deltas.detach(), anchors_.unsqueeze(0), BoxCoding{}),
                 static_cast<double>(preset_.height), static_cast<double>(preset_.width));
  auto [scores, index] = rpn.objectness.detach().topk(pre, 1);
  torch::Tensor top = gather_rows(boxes, index);
  return gather_rows(top, nms_padded(top, scores, 0.7, post));
}

std::pair<torch::Tensor, torch::Tensor> FasterRcnnModel::head(const torch::Tensor& features,
                                                              const torch::Tensor& rois) {
  torch::Tensor pooled =
      to_format(roi_align(features, rois, kPooled, 1.0 / kStride, kSamplingRatio));
  torch::Tensor x = res5_->forward(pooled).mean({2, 3});
  torch::Tensor logits = counted(cls_score_, x).to(torch::kFloat);
  torch::Tensor deltas =
      counted(bbox_pred_, x).to(torch::kFloat).view({x.size(0), preset_.classes + 1, 4});
  return {logits, deltas};
}

torch::Tensor FasterRcnnModel::sample(const torch::Tensor& labels, int64_t count,
                                      double fg_fraction) {
  const int64_t k = labels.size(1);
  torch::Tensor r = torch::rand(labels.sizes(), torch::device(labels.device()));
  torch::Tensor none = torch::full_like(r, -1);
  auto pick = [&](const torch::Tensor& eligible, int64_t most, const torch::Tensor& limit) {
    auto [value, index] = torch::where(eligible, r, none).topk(std::min(most, k), 1);
    torch::Tensor ok = value >= 0;
    if (limit.defined()) ok = ok & (torch::arange(value.size(1), index.options()) < limit);
    return torch::zeros_like(eligible).scatter(1, index, ok);
  };
  torch::Tensor fg = pick(
      labels == 1, static_cast<int64_t>(static_cast<double>(count) * fg_fraction), torch::Tensor());
  torch::Tensor room = count - fg.sum(1, /*keepdim=*/true);
  return fg | pick(labels == 0, count, room);
}

torch::Tensor FasterRcnnModel::training_loss() {
  RpnOutput rpn = backbone_and_rpn();
  const int64_t n = images_.size(0);
  // RPN: 256 anchors per image, up to half foreground, drawn afresh every step.
  torch::Tensor sampled = sample(rpn_labels_, preset_.rpn_batch, 0.5);
  torch::Tensor positive = rpn_labels_ == 1;
  torch::Tensor objectness_loss =
      (torch::binary_cross_entropy_with_logits(rpn.objectness, positive.to(torch::kFloat), {}, {},
                                               at::Reduction::None) *
       sampled.to(torch::kFloat))
          .sum() /
      sampled.sum().clamp_min(1);
  torch::Tensor rpn_box_loss =
      (torch::smooth_l1_loss(rpn.deltas, rpn_targets_, at::Reduction::None, 1.0 / 9).sum(-1) *
       (sampled & positive).to(torch::kFloat))
          .sum() /
      static_cast<double>(n * preset_.rpn_batch);

  // RoIs: proposals plus the ground truth, matched at IoU 0.5, sampled to a fixed count with up
  // to 25% foreground (bg: IoU < 0.5).
  torch::Tensor candidates =
      torch::cat({proposals(rpn, preset_.pre_nms_train, preset_.post_nms_train), gt_boxes_}, 1);
  Matches m = match_anchors(candidates, gt_boxes_, gt_valid_, 0.5, 0.5, false);
  torch::Tensor foreground = m.labels == 1;
  torch::Tensor chosen = sample(m.labels, preset_.roi_batch, 0.25);
  torch::Tensor r = torch::rand(foreground.sizes(), torch::device(device()));
  // The sampled ones first (they number exactly roi_batch when there are enough candidates).
  torch::Tensor priority = torch::where(chosen, 2 + r, torch::where(foreground, r - 2, r));
  torch::Tensor index = std::get<1>(priority.topk(preset_.roi_batch, 1));
  torch::Tensor rois = gather_rows(candidates, index);
  torch::Tensor roi_fg = foreground.gather(1, index);
  torch::Tensor roi_gt = m.gt_index.gather(1, index);
  torch::Tensor roi_labels =
      torch::where(roi_fg, gt_labels_.gather(1, roi_gt), torch::zeros_like(roi_gt)).flatten();
  torch::Tensor targets =
      encode_boxes(gather_rows(gt_boxes_, roi_gt), rois, BoxCoding{10, 10, 5, 5});
  targets = torch::where(roi_fg.unsqueeze(-1), targets, torch::zeros_like(targets)).view({-1, 4});

  auto [logits, deltas] = head(rpn.features, rois);
  torch::Tensor class_loss = torch::cross_entropy_loss(logits, roi_labels);
  torch::Tensor predicted =
      deltas.gather(1, roi_labels.view({-1, 1, 1}).expand({-1, 1, 4})).squeeze(1);
  torch::Tensor box_loss =
      (torch::smooth_l1_loss(predicted, targets, at::Reduction::None, 1.0).sum(-1) *
       roi_fg.flatten().to(torch::kFloat))
          .sum() /
      static_cast<double>(roi_labels.size(0));
  return objectness_loss + rpn_box_loss + class_loss + box_loss;
}

torch::Tensor FasterRcnnModel::inference() {
  RpnOutput rpn = backbone_and_rpn();
  const int64_t n = images_.size(0), c = preset_.classes;
  torch::Tensor props = proposals(rpn, preset_.pre_nms_test, preset_.post_nms_test);
  const int64_t r = props.size(1);
  auto [logits, deltas] = head(rpn.features, props);
  torch::Tensor scores = torch::softmax(logits, 1).view({n, r, c + 1}).narrow(2, 1, c);
  torch::Tensor boxes =
      clip_boxes(decode_boxes(deltas.view({n, r, c + 1, 4}).narrow(2, 1, c), props.unsqueeze(2),
                              BoxCoding{10, 10, 5, 5}),
                 static_cast<double>(preset_.height), static_cast<double>(preset_.width));
  return detect_per_class(boxes, scores, 0.05, 0.5, kCandidatesPerClass, preset_.detections);
}

FasterRcnnSpec scaled_down_spec() {
  FasterRcnnSpec s;
  s.tiny.resnet_width = 8;
  s.tiny.anchor_sizes = {16, 32, 64};
  s.tiny.pre_nms_train = 64;
  s.tiny.post_nms_train = 16;
  s.tiny.pre_nms_test = 64;
  s.tiny.post_nms_test = 8;
  s.tiny.rpn_batch = 64;
  s.tiny.roi_batch = 8;
  s.tiny.max_boxes = 3;
  s.tiny.detections = 10;
  s.small.resnet_width = 32;
  s.small.anchor_sizes = {32, 64, 128};
  s.small.pre_nms_train = 1000;
  s.small.post_nms_train = 128;
  s.small.pre_nms_test = 1000;
  s.small.post_nms_test = 32;
  s.small.roi_batch = 16;
  return s;
}

namespace {

/// model/faster_rcnn on COCO-shaped data.
class FasterRcnnWorkload : public FasterRcnnModel {
 public:
  static FasterRcnnSpec spec() {
    FasterRcnnSpec s = scaled_down_spec();
    s.name = "model/faster_rcnn";
    s.title = "Faster R-CNN R-50-C4";
    s.input_kind = "RGB image";
    s.classes_note = "COCO: 80 object classes + background";
    s.preset_source =
        "Detectron e2e_faster_rcnn_R-50-C4_1x: shorter side 800 (longer <= 1333), 1 image per "
        "GPU, RPN 12000/2000 (train) and 6000/1000 (test) proposals, 512 RoIs per image";
    s.in_channels = 3;
    s.tiny.height = 64;
    s.tiny.width = 64;
    s.tiny.classes = 3;
    s.small.height = 224;
    s.small.width = 320;
    s.full.height = 800;
    s.full.width = 1333;
    return s;
  }
  static WorkloadInfo info() {
    return model_info(
        spec().name,
        "Faster R-CNN with a ResNet-50-C4 backbone (Detectron R-50-C4): RPN, RoIAlign, conv5_x "
        "RoI head; inference with per-class NMS",
        faster_rcnn_params(spec()));
  }
  explicit FasterRcnnWorkload(const Problem& problem) : FasterRcnnModel(problem, spec()) {}
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(FasterRcnnWorkload);

}  // namespace dlbench::model
