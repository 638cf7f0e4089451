// model/hep: HPC AI500's high-energy-physics benchmark: a ResNet-50 classifies jet images
// (calorimeter energy deposits rendered as 3-channel images: electromagnetic, hadronic, tracks)
// as signal or background. FLOPs: resnet_flops (resnet.h). See docs/workloads/hep.md.
#include "core/registry.h"
#include "core/strings.h"
#include "workloads/model/vision/resnet.h"

namespace dlbench::model {
namespace {

ResNetConfig hep_config(const Problem& problem) {
  ResNetConfig config;
  config.depth = problem.get_int("depth");
  config.width = preset_param(problem, "width", 16, 64, 64);
  config.in_channels = 3;
  config.classes = 2;
  return config;
}

class Hep : public ResNetClassifier {
 public:
  static WorkloadInfo info() {
    return model_info(
        "model/hep",
        "HPC AI500 high-energy physics: ResNet-50 signal/background classification of "
        "3-channel jet images",
        {ParamSpec::choice("depth", "50", {"18", "34", "50", "101", "152"},
                           "ResNet depth (HPC AI500 specifies ResNet-50)"),
         ParamSpec::integer("image", 0, "image height = width (0: preset: 32 / 64 / 224)", 0),
         ParamSpec::integer("width", 0, "stem channels (0: preset: 16 / 64 / 64)", 0),
         ParamSpec::real("occupancy", 0.03, "share of pixels with an energy deposit", 1e-4, 1)});
  }

  explicit Hep(const Problem& problem)
      : ResNetClassifier(problem, hep_config(problem), preset_param(problem, "image", 32, 64, 224)),
        occupancy_(problem.get_double("occupancy")) {}

  std::optional<PublishedCount> published_parameters() const override {
    if (config_.depth != 50) return std::nullopt;
    // torchvision's 25,557,032 for ResNet-50 with a 1000-way fc, less 2048 x 998 + 998 for the
    // two-class head: 23,512,130.
    return PublishedCount{23512130, 0.0005,
                          "torchvision resnet50's published 25,557,032 with the fc cut to 2 "
                          "classes (HPC AI500 specification, Table 1: ResNet-50)"};
  }

 protected:
  int64_t preset_batch(Size size) const override { return by_size<int64_t>(size, 2, 16, 128); }
  std::string sample_unit() const override { return "jets"; }
  std::string summary() const override {
    return strprintf("ResNet-%lld v1.5 on %lldx%lld 3-channel jet images, signal vs background",
                     static_cast<long long>(config_.depth), static_cast<long long>(image_),
                     static_cast<long long>(image_));
  }
  std::vector<std::pair<std::string, std::string>> facts() const override {
    auto f = ResNetClassifier::facts();
    f.push_back({"data", strprintf("generated sparse jet images: %.1f%% of pixels carry "
                                   "exponential energy deposits clustered around 1-3 jet axes, "
                                   "log1p-scaled",
                                   100 * occupancy_)});
    return f;
  }

  /// Sparse images: deposits gathered around a few jet axes per image, energies exponential,
  /// scaled with log1p as calorimeter images are before training.
  void make_batch() override {
    const int64_t n = batch(), c = config_.in_channels, h = image_, w = image_;
    auto options = torch::TensorOptions().dtype(torch::kFloat);
    torch::Tensor images = torch::zeros({n, c, h, w}, options);
    const int64_t deposits = std::max<int64_t>(1, static_cast<int64_t>(occupancy_ * h * w));
    for (int64_t i = 0; i < n; ++i) {
      int64_t jets = 1 + torch::randint(3, {1}).item<int64_t>();
      torch::Tensor centers = torch::rand({jets, 2}) * torch::tensor({h, w}).to(torch::kFloat);
      torch::Tensor which = torch::randint(jets, {deposits});
      torch::Tensor spread = torch::randn({deposits, 2}) * (0.08 * static_cast<double>(h));
      torch::Tensor pos = (centers.index_select(0, which) + spread).round().to(torch::kLong);
      torch::Tensor y = pos.select(1, 0).clamp(0, h - 1), x = pos.select(1, 1).clamp(0, w - 1);
      torch::Tensor channel = torch::randint(c, {deposits});
      torch::Tensor energy = torch::empty({deposits}).exponential_(1.0);
      images[i].index_put_({channel, y, x}, energy, /*accumulate=*/true);
    }
    images_ = to_format(torch::log1p(images).to(device()));
    labels_ = torch::randint(2, {n}, torch::TensorOptions().dtype(torch::kLong)).to(device());
  }

 private:
  double occupancy_;
};

DLBENCH_REGISTER_WORKLOAD(Hep);

}  // namespace
}  // namespace dlbench::model
