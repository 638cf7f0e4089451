// model/hep: HPC AI500's high-energy-physics benchmark: a ResNet-50 classifies jet images
// (calorimeter energy deposits rendered as 3-channel images: electromagnetic, hadronic, tracks)
// as signal or background. FLOPs: resnet_flops (resnet.h). Its quality task classifies jets of a
// documented toy shower (ToyJetSource: boosted W -> qq' two-prong jets against one-prong QCD
// jets with pile-up). See docs/workloads/hep.md.
#include <fmt/core.h>
#include <algorithm>
#include <cmath>
#include <random>

#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "nn/quality_metrics.h"
#include "workloads/model/vision/resnet.h"

namespace dlbench::model {
namespace {

/// Jets of a toy parton shower rendered as calorimeter images (docs/workloads/hep.md, "Quality"):
/// a jet of transverse momentum pT ~ U[250, 350] GeV seen through a (eta, phi) window of
/// +-1.0 around its axis, image x image pixels, 3 channels (electromagnetic, hadronic, tracks).
///  - signal (label 1), a boosted W -> qq': two prongs with momentum shares z and 1 - z,
///    z ~ U[0.2, 0.8], separated by dR = m_W / (pT sqrt(z (1 - z))), m_W = 80.4 GeV, the
///    pair's axis at a uniform angle; each prong a narrow quark shower (Poisson(10) particles at
///    |N(0, 0.06)| from its axis);
///  - background (label 0), a QCD jet: one hard prong, a broad gluon-like shower (Poisson(18)
///    particles at |N(0, 0.12)|), and with probability 0.35 a hard splitting (a second prong
///    with z = 0.05 + 0.3 u^2, u ~ U[0, 1], at dR ~ |N(0, 0.3)|), the background that looks
///    like signal;
///  - particle energies: a prong's energy split by exponential weights; each particle is
///    charged (60%: tracks channel), a photon (25%: electromagnetic) or a neutral hadron (15%:
///    hadronic); calorimeter deposits smeared by 50%/sqrt(E);
///  - pile-up: Poisson(15) particles of Exp(1 GeV) uniform over the window, any channel;
///  - pixels: log(1 + E / GeV).
/// Sample i (its class included, each with probability 1/2) is a fixed function of (seed, i).
class ToyJetSource : public data::BatchSource {
 public:
  ToyJetSource(int64_t image, int64_t samples, uint64_t seed)
      : image_(image), samples_(samples), seed_(seed) {}
  int64_t size() const override { return samples_; }
  std::string describe() const override {
    return fmt::format(
        "{} toy-shower jets (boosted W two-prong signal vs one-prong QCD with pile-up), "
        "3 x {} x {} calorimeter images, exact labels",
        samples_, image_, image_);
  }

  data::Batch load(const std::vector<int64_t>& indices, uint64_t) const override {
    const int64_t b = static_cast<int64_t>(indices.size());
    torch::Tensor images = torch::zeros({b, 3, image_, image_});
    torch::Tensor labels = torch::empty({b}, torch::kLong);
    for (int64_t i = 0; i < b; ++i) {
      labels.data_ptr<int64_t>()[i] = render(indices[static_cast<size_t>(i)],
                                             images.data_ptr<float>() + i * 3 * image_ * image_);
    }
    data::Batch batch;
    batch.tensors = {images.log1p_(), labels};
    batch.size = b;
    return batch;
  }

 private:
  static constexpr double kWindow = 1.0;  // the image spans +-kWindow in eta and phi
  static constexpr double kMassW = 80.4;

  /// Draws jet `index` into `pixels` (3 x image x image energies, GeV); returns its label.
  int64_t render(int64_t index, float* pixels) const {
    uint64_t z0 =
        seed_ * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(index) * 0xbf58476d1ce4e5b9ull;
    std::mt19937_64 rng(z0 ^ (z0 >> 29));
    std::uniform_real_distribution<double> unit(0, 1);
    std::normal_distribution<double> normal(0, 1);
    const bool signal = unit(rng) < 0.5;
    const double pt = 250 + 100 * unit(rng);
    const double angle = 2 * M_PI * unit(rng);
    auto deposit = [&](double eta, double phi, double energy, int channel) {
      if (channel < 2)
        energy *= std::max(0.0, 1 + normal(rng) * 0.5 / std::sqrt(std::max(energy, 0.01)));
      auto px = static_cast<int64_t>(std::floor((phi + kWindow) / (2 * kWindow) * image_));
      auto py = static_cast<int64_t>(std::floor((eta + kWindow) / (2 * kWindow) * image_));
      if (px < 0 || py < 0 || px >= image_ || py >= image_ || energy <= 0) return;
      pixels[(channel * image_ + py) * image_ + px] += static_cast<float>(energy);
    };
    auto shower = [&](double eta, double phi, double energy, double mean_particles, double spread) {
      int n = std::max(1, std::poisson_distribution<int>(mean_particles)(rng));
      std::vector<double> weights(static_cast<size_t>(n));
      double total = 0;
      for (double& w : weights) total += (w = std::exponential_distribution<double>(1)(rng));
      for (double w : weights) {
        double r = std::abs(normal(rng)) * spread, a = 2 * M_PI * unit(rng);
        double kind = unit(rng);
        int channel = kind < 0.6 ? 2 : kind < 0.85 ? 0 : 1;
        deposit(eta + r * std::sin(a), phi + r * std::cos(a), energy * w / total, channel);
      }
    };
    if (signal) {
      double z = 0.2 + 0.6 * unit(rng);
      double dr = kMassW / (pt * std::sqrt(z * (1 - z)));
      // The axis sits at the momentum-weighted centre: prongs at (1 - z) dR and z dR from it.
      shower((1 - z) * dr * std::sin(angle), (1 - z) * dr * std::cos(angle), z * pt, 10, 0.06);
      shower(-z * dr * std::sin(angle), -z * dr * std::cos(angle), (1 - z) * pt, 10, 0.06);
    } else if (unit(rng) < 0.35) {
      double u = unit(rng);
      double z = 0.05 + 0.3 * u * u;
      double dr = std::abs(normal(rng)) * 0.3;
      shower((1 - z) * dr * std::sin(angle), (1 - z) * dr * std::cos(angle), (1 - z) * pt, 18,
             0.12);
      shower(-z * dr * std::sin(angle), -z * dr * std::cos(angle), z * pt, 10, 0.06);
    } else {
      shower(0, 0, pt, 18, 0.12);
    }
    int pileup = std::poisson_distribution<int>(15)(rng);
    for (int k = 0; k < pileup; ++k) {
      double eta = (2 * unit(rng) - 1) * kWindow, phi = (2 * unit(rng) - 1) * kWindow;
      deposit(eta, phi, std::exponential_distribution<double>(1)(rng),
              static_cast<int>(unit(rng) * 3));
    }
    return signal ? 1 : 0;
  }

  int64_t image_, samples_;
  uint64_t seed_;
};

/// The physicist's baseline on the same images: the jet mass from the calorimeter and track
/// deposits (small-angle, massless: m^2 = sum_{i<j} E_i E_j dR_ij^2 over pixels, with
/// E = expm1(pixel) and dR in (eta, phi) at the pixel centres), and the ROC AUC of a cut on it
/// (m > m_cut, every m_cut) over the first `count` samples of `source`. Pile-up lifts both
/// classes' masses (signal median ~100 GeV, QCD ~64 GeV at 32 x 32), so the cut is one-sided
/// rather than a window around m_W. A network has to beat this.
double jet_mass_cut_auc(const ToyJetSource& source, int64_t image, int64_t count) {
  nn::RocAuc auc;
  const double pitch = 2.0 / static_cast<double>(image);  // the window spans 2 units
  for (int64_t first = 0; first < count; first += 256) {
    std::vector<int64_t> indices;
    for (int64_t i = first; i < std::min(count, first + 256); ++i) indices.push_back(i);
    data::Batch batch = source.load(indices, 0);
    torch::Tensor energy = torch::expm1(batch.tensors.at(0)).sum(1);  // [B, H, W]
    torch::Tensor coord = (torch::arange(image, torch::kFloat) + 0.5) * pitch - 1.0;
    torch::Tensor eta = coord.view({1, image, 1}), phi = coord.view({1, 1, image});
    // sum_{i<j} E_i E_j |r_i - r_j|^2 = (sum E)(sum E |r|^2) - |sum E r|^2.
    torch::Tensor total = energy.sum({1, 2});
    torch::Tensor second = (energy * (eta * eta + phi * phi)).sum({1, 2});
    torch::Tensor first_eta = (energy * eta).sum({1, 2}), first_phi = (energy * phi).sum({1, 2});
    torch::Tensor mass =
        (total * second - first_eta * first_eta - first_phi * first_phi).clamp_min(0).sqrt();
    auc.add(mass, batch.tensors.at(1));
  }
  return auc.value();
}

ResNetConfig hep_config(const Problem& problem) {
  ResNetConfig config;
  config.depth = problem.get_int("depth");
  config.width = ModelWorkload::runs_on_task_data(problem)
                     ? preset_param(problem, "width", 16, 16, 64)
                     : preset_param(problem, "width", 16, 64, 64);
  config.in_channels = 3;
  config.classes = 2;
  return config;
}

class Hep : public ResNetClassifier {
 public:
  static WorkloadInfo info() {
    return quality_model_info(
        "model/hep",
        "HPC AI500 high-energy physics: ResNet-50 signal/background classification of "
        "3-channel jet images",
        {ParamSpec::choice("depth", "50", {"18", "34", "50", "101", "152"},
                           "ResNet depth (HPC AI500 specifies ResNet-50)"),
         ParamSpec::integer("image", 0,
                            "image height = width (0: preset: 32 / 64 / 224; toy-shower jets of "
                            "mode=quality or input=loader: 32 / 32 / 224)",
                            0),
         ParamSpec::integer("width", 0,
                            "stem channels (0: preset: 16 / 64 / 64; toy-shower jets: 16 / 16 / "
                            "64)",
                            0),
         ParamSpec::real("occupancy", 0.03, "share of pixels with an energy deposit", 1e-4, 1)});
  }

  explicit Hep(const Problem& problem)
      : ResNetClassifier(problem, hep_config(problem),
                         ModelWorkload::runs_on_task_data(problem)
                             ? preset_param(problem, "image", 32, 32, 224)
                             : preset_param(problem, "image", 32, 64, 224)),
        occupancy_(problem.get_double("occupancy")) {}

  ModelFacts model_facts() const override {
    ModelFacts f;
    f.summary = fmt::format("ResNet-{} v1.5 on {}x{} 3-channel jet images, signal vs background",
                            config_.depth, image_, image_);
    f.sample_unit = "jets";
    f.preset_batch = task_data_ ? PresetBatch{16, 64, 128} : PresetBatch{2, 16, 128};
    f.optimizer = task_data_ ? "Adam, lr 1e-3 (toy-shower jets; HPC AI500 states no schedule)"
                             : sgd_optimizer_name();
    if (config_.depth == 50) {
      // torchvision's 25,557,032 for ResNet-50 with a 1000-way fc, less 2048 x 998 + 998 for
      // the two-class head: 23,512,130.
      f.published_parameters =
          PublishedCount{23512130, 0.0005,
                         "torchvision resnet50's published 25,557,032 with the fc cut to 2 "
                         "classes (HPC AI500 specification, Table 1: ResNet-50)"};
    }
    return f;
  }

 protected:
  std::vector<std::pair<std::string, std::string>> facts() const override {
    auto f = ResNetClassifier::facts();
    if (task_data_) {
      f.push_back({"data",
                   "toy-shower jets: boosted W two-prong signal vs one-prong QCD "
                   "background with hard splittings and pile-up (docs/workloads/hep.md)"});
      return f;
    }
    f.push_back({"data", fmt::format("generated sparse jet images: {:.1f}% of pixels carry "
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

  std::unique_ptr<torch::optim::Optimizer> make_optimizer() override {
    if (!task_data_) return ResNetClassifier::make_optimizer();
    return std::make_unique<torch::optim::Adam>(net().parameters(),
                                                torch::optim::AdamOptions(1e-3));
  }

  // --- Quality: signal / background separation of toy-shower jets, ROC AUC ---
  std::optional<QualitySpec> quality_spec() const override {
    QualitySpec spec;
    spec.task = "jet classification (boosted W vs QCD)";
    spec.dataset = fmt::format("toy-shower jet images, 3 x {} x {}: {} train, {} held out", image_,
                               image_, jets(true), jets(false));
    spec.metric = "auc";
    spec.unit = "";
    spec.higher_is_better = true;
    spec.target = by_size(size_, 0.80, 0.98, 0.99);
    spec.target_source =
        "dlbench's bar for the toy shower (docs/workloads/hep.md), above the "
        "jet-mass cut's AUC";
    if (mass_auc_ > 0) spec.dataset += fmt::format("; a jet-mass cut gives AUC {:.4f}", mass_auc_);
    spec.eval_every_epochs = 0.5;
    spec.max_epochs = by_size(size_, 4.0, 10.0, 20.0);
    spec.eval_batch_size = 500;
    return spec;
  }

  std::pair<std::shared_ptr<const data::BatchSource>, std::shared_ptr<const data::BatchSource>>
  quality_data() override {
    auto held_out = std::make_shared<ToyJetSource>(image_, jets(false), 2);
    // The baseline is shown beside the target of a quality run; input=loader does not need it.
    if (quality_) mass_auc_ = jet_mass_cut_auc(*held_out, image_, jets(false));
    return {std::make_shared<ToyJetSource>(image_, jets(true), 1), held_out};
  }

  void use_batch(const data::Batch& batch) override {
    images_ = to_format(batch.tensors.at(0).to(device()));
    labels_ = batch.tensors.at(1).to(device());
  }

  void begin_scoring() override { auc_ = nn::RocAuc(); }
  void score_batch(const data::Batch& batch) override {
    torch::Tensor logits = resnet_->forward(to_format(batch.tensors.at(0).to(device())));
    torch::Tensor signal = torch::softmax(logits.to(torch::kFloat), 1).select(1, 1);
    auc_.add(signal, batch.tensors.at(1));
  }
  double scored_quality() override { return auc_.value(); }

 private:
  int64_t jets(bool train) const {
    return train ? by_size<int64_t>(size_, 1024, 20000, 200000)
                 : by_size<int64_t>(size_, 512, 4000, 20000);
  }

  double occupancy_;
  nn::RocAuc auc_;
  double mass_auc_ = 0;  // the jet-mass cut's AUC on the held-out jets (after quality_data)
};

DLBENCH_REGISTER_WORKLOAD(Hep);

}  // namespace
}  // namespace dlbench::model
