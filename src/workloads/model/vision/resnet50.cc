// model/resnet50: ResNet-50 v1.5 image classification (AI Matrix vision, MLPerf Training),
// also depth 18/34/101/152. Trained with SGD + momentum on cross-entropy as He et al. (2015) do.
// FLOPs: resnet_flops (resnet.h); a training step is 3x forward less the stem's data gradient.
// See docs/workloads/resnet50.md.
#include "core/registry.h"
#include "core/strings.h"
#include "workloads/model/model.h"
#include "workloads/model/vision/resnet.h"

namespace dlbench::model {
namespace {

class ResNetModel : public ModelWorkload {
 public:
  static WorkloadInfo info() {
    return model_info(
        "model/resnet50",
        "ResNet-50 v1.5 image classification (depth 18/34/50/101/152), SGD momentum training",
        {ParamSpec::choice("depth", "50", {"18", "34", "50", "101", "152"},
                           "layers (He et al. 2015, Table 1)"),
         ParamSpec::integer("image", 0, "input height = width (0: preset: 32 / 128 / 224)", 0),
         ParamSpec::integer("width", 0, "stem channels (0: preset: 16 / 64 / 64)", 0),
         ParamSpec::integer("classes", 0, "classes (0: preset: 10 / 1000 / 1000)", 0)});
  }

  explicit ResNetModel(const Problem& problem)
      : ModelWorkload(problem),
        image_(param_or("image", by_size<int64_t>(size_, 32, 128, 224))) {
    config_.depth = problem.get_int("depth");
    config_.width = param_or("width", by_size<int64_t>(size_, 16, 64, 64));
    config_.classes = param_or("classes", by_size<int64_t>(size_, 10, 1000, 1000));
  }

  Flops analytic_flops() const override {
    ResNetFlops f = resnet_flops(config_, image_, image_);
    return {f.forward, 3 * f.forward - f.stem};
  }

  std::optional<PublishedCount> published_parameters() const override {
    // torchvision's model table (weights IMAGENET1K_V1), 1000 classes, width 64.
    const std::map<int64_t, double> table = {{18, 11689512},  {34, 21797672}, {50, 25557032},
                                             {101, 44549160}, {152, 60192808}};
    return PublishedCount{table.at(config_.depth), 0.0005,
                          "torchvision.models.resnet" + std::to_string(config_.depth) +
                              " documentation (He et al. 2015: 25.6 M for ResNet-50)"};
  }

 protected:
  int64_t preset_batch(Size size) const override { return by_size<int64_t>(size, 2, 8, 256); }
  std::string summary() const override {
    return strprintf("ResNet-%lld v1.5, %lldx%lld RGB input, %lld classes",
                     static_cast<long long>(config_.depth), static_cast<long long>(image_),
                     static_cast<long long>(image_), static_cast<long long>(config_.classes));
  }
  std::vector<std::pair<std::string, std::string>> facts() const override {
    return {{"input", strprintf("3 x %lld x %lld", static_cast<long long>(image_),
                                static_cast<long long>(image_))},
            {"stages", strprintf("%s blocks, widths %lld..%lld",
                                 resnet_bottleneck(config_.depth) ? "bottleneck" : "basic",
                                 static_cast<long long>(config_.width),
                                 static_cast<long long>(config_.width * 8))},
            {"loss", "softmax cross-entropy"}};
  }
  std::string optimizer_name() const override {
    return "SGD, lr 0.1, momentum 0.9, weight decay 1e-4 (He et al. 2015)";
  }

  void build() override { resnet_ = net().register_module("resnet", ResNet(config_)); }

  void make_batch() override {
    images_ = to_format(torch::randn({batch(), 3, image_, image_}, torch::device(device())));
    labels_ = torch::randint(config_.classes, {batch()},
                             torch::device(device()).dtype(torch::kLong));
  }

  std::unique_ptr<torch::optim::Optimizer> make_optimizer() override {
    return std::make_unique<torch::optim::SGD>(
        net().parameters(), torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-4));
  }

  torch::Tensor training_loss() override {
    return torch::cross_entropy_loss(resnet_->forward(images_), labels_);
  }

  torch::Tensor inference() override {
    torch::Tensor logits = resnet_->forward(images_);
    return torch::softmax(logits.to(torch::kFloat), 1);
  }

 private:
  ResNetConfig config_;
  int64_t image_;
  ResNet resnet_{nullptr};
  torch::Tensor images_, labels_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(ResNetModel);

}  // namespace dlbench::model
