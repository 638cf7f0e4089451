// ResNet v1.5 (torchvision's resnet18...152) as LibTorch modules, with its analytic FLOP count.
// Shared by model/resnet50, model/hep and the detection backbones (SSD's ResNet-34, Faster
// R-CNN's ResNet-50 C4). See docs/workloads/resnet50.md.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "workloads/model/model.h"

namespace dlbench::model {

/// Blocks per stage for depth 18, 34, 50, 101 or 152 (He et al. 2015, Table 1).
std::vector<int64_t> resnet_blocks(int64_t depth);
/// True for the bottleneck depths (50, 101, 152).
bool resnet_bottleneck(int64_t depth);

/// A ResNet's shape.
struct ResNetConfig {
  int64_t depth = 50;
  int64_t width = 64;       ///< channels of the stem and of the first stage's 3x3 convs
  int64_t in_channels = 3;  ///< input channels (3 for RGB)
  int64_t classes = 1000;   ///< fc outputs; 0: no classifier (a backbone)
  int64_t stages = 4;       ///< stages built (a backbone may stop early, e.g. C4 = 3)
  /// Stride of the first 3x3 conv of each stage after the first (SSD sets stage 4's to 1).
  std::vector<int64_t> stage_strides = {1, 2, 2, 2};
};

/// Basic (two 3x3) or bottleneck (1x1, 3x3, 1x1 x4) residual block; the stride sits on the 3x3
/// conv (v1.5); a 1x1 projection shortcut when the shape changes.
class ResidualBlockImpl : public torch::nn::Module {
 public:
  ResidualBlockImpl(int64_t in, int64_t width, int64_t stride, bool bottleneck);
  torch::Tensor forward(torch::Tensor x);
  /// Output channels.
  int64_t out_channels() const { return out_; }

 private:
  bool bottleneck_;
  int64_t out_;
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr}, project_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr}, project_bn_{nullptr};
};
TORCH_MODULE(ResidualBlock);

/// Stem (7x7/2 conv, BN, ReLU, 3x3/2 max pool), `stages` residual stages, global average pool
/// and fc (when classes > 0).
class ResNetImpl : public torch::nn::Module {
 public:
  explicit ResNetImpl(const ResNetConfig& config);
  /// The feature map after the last built stage.
  torch::Tensor features(torch::Tensor x);
  /// Logits (requires classes > 0).
  torch::Tensor forward(torch::Tensor x);
  /// Channels of features().
  int64_t feature_channels() const { return feature_channels_; }

 private:
  ResNetConfig config_;
  int64_t feature_channels_ = 0;
  torch::nn::Conv2d stem_{nullptr};
  torch::nn::BatchNorm2d stem_bn_{nullptr};
  std::vector<torch::nn::Sequential> stages_;
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(ResNet);

/// Analytic FLOPs of one forward pass of one sample (2 per MAC of convs and fc).
struct ResNetFlops {
  double forward = 0;    ///< whole network
  double stem = 0;       ///< the first conv alone (no data gradient in training)
  int64_t out_h = 0;     ///< feature map height after the last stage
  int64_t out_w = 0;     ///< and width
  int64_t channels = 0;  ///< and channels
};
ResNetFlops resnet_flops(const ResNetConfig& config, int64_t height, int64_t width);

/// Output size of a convolution or pooling window along one dimension.
int64_t conv_out(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation = 1);

/// torchvision's initialisation: Kaiming normal (fan-out, ReLU) for convs, BN weight 1, bias 0.
void init_conv_bn(torch::nn::Module& module);

}  // namespace dlbench::model

namespace dlbench::model {

/// A ResNet image classifier as a model workload: the network, its FLOP formula, SGD with
/// momentum (He et al. 2015) and softmax cross-entropy. model/resnet50 and model/hep derive from
/// it and add presets, data and their sources.
class ResNetClassifier : public ModelWorkload {
 public:
  /// `config` and the input size (square) for this problem.
  ResNetClassifier(const Problem& problem, ResNetConfig config, int64_t image);

  Flops analytic_flops() const override;

 protected:
  std::vector<std::pair<std::string, std::string>> facts() const override;
  /// The optimizer make_optimizer() builds, by name (He et al. 2015), for model_facts().
  static std::string sgd_optimizer_name();
  void build() override;
  std::unique_ptr<torch::optim::Optimizer> make_optimizer() override;
  torch::Tensor training_loss() override;
  torch::Tensor inference() override;
  /// Random normal images and uniform labels; subclasses with other data override it.
  void make_batch() override;

  ResNetConfig config_;
  int64_t image_;
  ResNet resnet_{nullptr};
  torch::Tensor images_, labels_;
};

}  // namespace dlbench::model
