// ResNet v1.5 modules and FLOP formula. See resnet.h.
#include <fmt/core.h>

#include "workloads/model/vision/resnet.h"

#include "core/error.h"
#include "core/strings.h"
#include "workloads/model/model.h"

namespace dlbench::model {

namespace {
torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t pad) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(pad).bias(false));
}
}  // namespace

std::vector<int64_t> resnet_blocks(int64_t depth) {
  switch (depth) {
    case 18:
      return {2, 2, 2, 2};
    case 34:
      return {3, 4, 6, 3};
    case 50:
      return {3, 4, 6, 3};
    case 101:
      return {3, 4, 23, 3};
    case 152:
      return {3, 8, 36, 3};
    default:
      throw Error("ResNet depth must be 18, 34, 50, 101 or 152");
  }
}

bool resnet_bottleneck(int64_t depth) { return depth >= 50; }

namespace {
std::string join_ints(const std::vector<int64_t>& values) {
  std::string out;
  for (int64_t v : values) out += (out.empty() ? "" : "-") + std::to_string(v);
  return out;
}
}  // namespace

int64_t conv_out(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation) {
  return (in + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
}

void init_conv_bn(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& child : module.modules(/*include_self=*/false)) {
    if (auto* c = child->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(c->weight, 0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = child->as<torch::nn::BatchNorm2d>()) {
      bn->weight.fill_(1);
      bn->bias.zero_();
    }
  }
}

ResidualBlockImpl::ResidualBlockImpl(int64_t in, int64_t width, int64_t stride, bool bottleneck)
    : bottleneck_(bottleneck), out_(bottleneck ? 4 * width : width) {
  if (bottleneck_) {
    conv1_ = register_module("conv1", conv(in, width, 1, 1, 0));
    bn1_ = register_module("bn1", torch::nn::BatchNorm2d(width));
    conv2_ = register_module("conv2", conv(width, width, 3, stride, 1));
    bn2_ = register_module("bn2", torch::nn::BatchNorm2d(width));
    conv3_ = register_module("conv3", conv(width, out_, 1, 1, 0));
    bn3_ = register_module("bn3", torch::nn::BatchNorm2d(out_));
  } else {
    conv1_ = register_module("conv1", conv(in, width, 3, stride, 1));
    bn1_ = register_module("bn1", torch::nn::BatchNorm2d(width));
    conv2_ = register_module("conv2", conv(width, width, 3, 1, 1));
    bn2_ = register_module("bn2", torch::nn::BatchNorm2d(width));
  }
  if (stride != 1 || in != out_) {
    project_ = register_module("downsample", conv(in, out_, 1, stride, 0));
    project_bn_ = register_module("downsample_bn", torch::nn::BatchNorm2d(out_));
  }
}

torch::Tensor ResidualBlockImpl::forward(torch::Tensor x) {
  torch::Tensor y = torch::relu(bn1_(counted(conv1_, x)));
  y = bn2_(counted(conv2_, y));
  if (bottleneck_) y = bn3_(counted(conv3_, torch::relu(y)));
  torch::Tensor shortcut = project_ ? project_bn_(counted(project_, x)) : x;
  return torch::relu(y + shortcut);
}

ResNetImpl::ResNetImpl(const ResNetConfig& config) : config_(config) {
  const bool bottleneck = resnet_bottleneck(config.depth);
  const std::vector<int64_t> blocks = resnet_blocks(config.depth);
  if (config.stages < 1 || config.stages > 4) throw Error("ResNet stages must be 1..4");
  stem_ = register_module("conv1", conv(config.in_channels, config.width, 7, 2, 3));
  stem_bn_ = register_module("bn1", torch::nn::BatchNorm2d(config.width));
  int64_t in = config.width;
  for (int64_t s = 0; s < config.stages; ++s) {
    torch::nn::Sequential stage;
    int64_t width = config.width << s;
    for (int64_t b = 0; b < blocks[s]; ++b) {
      ResidualBlock block(in, width, b == 0 ? config.stage_strides[s] : 1, bottleneck);
      in = block->out_channels();
      stage->push_back(block);
    }
    stages_.push_back(register_module("layer" + std::to_string(s + 1), stage));
  }
  feature_channels_ = in;
  if (config.classes > 0) fc_ = register_module("fc", torch::nn::Linear(in, config.classes));
  init_conv_bn(*this);
}

torch::Tensor ResNetImpl::features(torch::Tensor x) {
  x = torch::relu(stem_bn_(counted(stem_, x)));
  x = torch::max_pool2d(x, 3, 2, 1);
  for (auto& stage : stages_) x = stage->forward(x);
  return x;
}

torch::Tensor ResNetImpl::forward(torch::Tensor x) {
  x = features(x);
  x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  return counted(fc_, x);
}

ResNetFlops resnet_flops(const ResNetConfig& config, int64_t height, int64_t width) {
  const bool bottleneck = resnet_bottleneck(config.depth);
  const std::vector<int64_t> blocks = resnet_blocks(config.depth);
  auto conv_flops = [](int64_t h, int64_t w, int64_t cin, int64_t cout, int64_t k) {
    return 2.0 * static_cast<double>(h * w * cout * cin * k * k);
  };
  ResNetFlops f;
  int64_t h = conv_out(height, 7, 2, 3), w = conv_out(width, 7, 2, 3);
  f.stem = conv_flops(h, w, config.in_channels, config.width, 7);
  f.forward = f.stem;
  h = conv_out(h, 3, 2, 1);
  w = conv_out(w, 3, 2, 1);
  int64_t in = config.width;
  for (int64_t s = 0; s < config.stages; ++s) {
    int64_t planes = config.width << s;
    int64_t out = bottleneck ? 4 * planes : planes;
    for (int64_t b = 0; b < blocks[s]; ++b) {
      int64_t stride = b == 0 ? config.stage_strides[s] : 1;
      int64_t ho = conv_out(h, 3, stride, 1), wo = conv_out(w, 3, stride, 1);
      if (bottleneck) {
        f.forward += conv_flops(h, w, in, planes, 1);        // 1x1 reduce
        f.forward += conv_flops(ho, wo, planes, planes, 3);  // 3x3 (strided)
        f.forward += conv_flops(ho, wo, planes, out, 1);     // 1x1 expand
      } else {
        f.forward += conv_flops(ho, wo, in, planes, 3);
        f.forward += conv_flops(ho, wo, planes, planes, 3);
      }
      if (stride != 1 || in != out) f.forward += conv_flops(ho, wo, in, out, 1);
      in = out;
      h = ho;
      w = wo;
    }
  }
  if (config.classes > 0) f.forward += 2.0 * static_cast<double>(in * config.classes);
  f.out_h = h;
  f.out_w = w;
  f.channels = in;
  return f;
}

}  // namespace dlbench::model

namespace dlbench::model {

ResNetClassifier::ResNetClassifier(const Problem& problem, ResNetConfig config, int64_t image)
    : ModelWorkload(problem), config_(std::move(config)), image_(image) {}

ModelWorkload::Flops ResNetClassifier::analytic_flops() const {
  ResNetFlops f = resnet_flops(config_, image_, image_);
  // Every counted layer gets a weight gradient and a data gradient, except the stem conv,
  // whose input is data.
  return {f.forward, 3 * f.forward - f.stem};
}

std::vector<std::pair<std::string, std::string>> ResNetClassifier::facts() const {
  return {{"input", fmt::format("{} x {} x {}", config_.in_channels, image_, image_)},
          {"stages",
           fmt::format("{} blocks ({}), widths {}..{}",
                       resnet_bottleneck(config_.depth) ? "bottleneck" : "basic",
                       join_ints(resnet_blocks(config_.depth)), config_.width, config_.width * 8)},
          {"loss", "softmax cross-entropy"}};
}

std::string ResNetClassifier::sgd_optimizer_name() {
  return "SGD, lr 0.1, momentum 0.9, weight decay 1e-4 (He et al. 2015)";
}

void ResNetClassifier::build() { resnet_ = net().register_module("resnet", ResNet(config_)); }

void ResNetClassifier::make_batch() {
  images_ = to_format(
      torch::randn({batch(), config_.in_channels, image_, image_}, torch::device(device())));
  labels_ = torch::randint(config_.classes, {batch()}, torch::device(device()).dtype(torch::kLong));
}

std::unique_ptr<torch::optim::Optimizer> ResNetClassifier::make_optimizer() {
  return std::make_unique<torch::optim::SGD>(
      net().parameters(), torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-4));
}

torch::Tensor ResNetClassifier::training_loss() {
  return torch::cross_entropy_loss(resnet_->forward(images_), labels_);
}

torch::Tensor ResNetClassifier::inference() {
  return torch::softmax(resnet_->forward(images_).to(torch::kFloat), 1);
}

}  // namespace dlbench::model
