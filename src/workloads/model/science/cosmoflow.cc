// model/cosmoflow: the MLPerf HPC CosmoFlow benchmark (HPC AI500 cosmology): a 3D CNN that
// regresses 4 cosmological parameters from 4-channel (redshift bins) dark-matter particle-count
// volumes. Mathuriya et al., "CosmoFlow: Using Deep Learning to Learn the Universe at Scale",
// SC18; the network is the MLPerf HPC reference (mlcommons/hpc cosmoflow, configs/cosmo.yaml):
// 5 x [3x3x3 'same' conv, leaky ReLU 0.3, 2x2x2 max pool] with 32..512 filters, dense 128 and 64
// with leaky ReLU and dropout 0.5, dense 4 with 1.2 x tanh. MSE loss, SGD momentum 0.9.
// FLOPs: CosmoFlowModel::analytic_flops; see docs/workloads/cosmoflow.md.
#include <fmt/core.h>

#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "nn/quality_metrics.h"
#include "workloads/model/model.h"

namespace dlbench::model {
namespace {

/// Quality data for CosmoFlow: Gaussian random fields whose 4 generating parameters are known
/// exactly, drawn as the loader asks for them (the generation is the CPU work a real pipeline
/// spends decoding). Sample i is fixed by (stream, i). Its parameters theta in [-1, 1]^4 set:
/// the amplitude (sigma = 0.4 exp(0.5 theta0)), the spectral slope (P(k) ~ k^(-2 + 0.8 theta1)),
/// the damping scale (exp(-(k / k_c)^2), k_c = (0.3 + 0.15 theta2) x Nyquist) and the growth
/// across the 4 redshift channels (delta_c = delta x (1 + (0.25 + 0.15 theta3) c)). Each channel
/// becomes particle counts, Poisson around 4 exp(delta_c - var / 2), given to the network as
/// log(1 + n) like the reference's histograms. Targets: theta.
class GaussianFieldSource : public data::BatchSource {
 public:
  GaussianFieldSource(int64_t samples, int64_t volume, int64_t channels, uint64_t stream)
      : samples_(samples), volume_(volume), channels_(channels), stream_(stream) {
    torch::Tensor full = torch::fft::fftfreq(volume);
    torch::Tensor half = torch::fft::rfftfreq(volume, 1.0, torch::TensorOptions());
    torch::Tensor k2 =
        full.view({-1, 1, 1}).pow(2) + full.view({1, -1, 1}).pow(2) + half.view({1, 1, -1}).pow(2);
    k_ = k2.sqrt() / 0.5;  // in units of the Nyquist frequency
    k_[0][0][0] = 1;       // the mean mode, zeroed by the spectrum below
  }
  int64_t size() const override { return samples_; }
  std::string describe() const override {
    return fmt::format(
        "{} Gaussian random fields of {}^3 x {} channels with known "
        "parameters",
        samples_, volume_, channels_);
  }
  data::Batch load(const std::vector<int64_t>& indices, uint64_t) const override {
    const int64_t n = static_cast<int64_t>(indices.size()), v = volume_;
    torch::Tensor volumes = torch::empty({n, channels_, v, v, v});
    torch::Tensor targets = torch::empty({n, 4});
    for (int64_t i = 0; i < n; ++i) {
      torch::Generator gen = at::detail::createCPUGenerator(stream_ * 1000003 + indices[i]);
      torch::Tensor theta = torch::rand({4}, gen) * 2 - 1;
      auto t = theta.accessor<float, 1>();
      double sigma = 0.4 * std::exp(0.5 * t[0]);
      double slope = -2 + 0.8 * t[1];
      double cutoff = 0.3 + 0.15 * t[2];
      double growth = 0.25 + 0.15 * t[3];
      torch::Tensor amplitude = (k_.pow(slope) * torch::exp(-(k_ / cutoff).pow(2))).sqrt();
      amplitude[0][0][0] = 0;
      torch::Tensor noise =
          torch::complex(torch::randn(k_.sizes(), gen), torch::randn(k_.sizes(), gen));
      torch::Tensor delta = torch::fft::irfftn(noise * amplitude, std::vector<int64_t>{v, v, v});
      delta = delta / delta.std() * sigma;
      for (int64_t c = 0; c < channels_; ++c) {
        torch::Tensor dc = delta * (1 + growth * static_cast<double>(c));
        double var = sigma * sigma * (1 + growth * c) * (1 + growth * c);
        torch::Tensor counts = torch::poisson(4 * torch::exp(dc - var / 2), gen);
        volumes[i][c] = torch::log1p(counts);
      }
      targets[i] = theta;
    }
    data::Batch batch;
    batch.tensors = {volumes, targets};
    batch.size = n;
    return batch;
  }

 private:
  int64_t samples_, volume_, channels_;
  uint64_t stream_;
  torch::Tensor k_;
};

/// The network's shape (the reference's defaults in the full preset).
struct CosmoFlowConfig {
  int64_t volume = 128;      ///< input edge (D = H = W)
  int64_t channels = 4;      ///< input channels (redshift bins)
  int64_t filters = 32;      ///< filters of the first conv; doubled at each of the next ones
  int64_t conv_layers = 5;   ///< conv + pool blocks
  int64_t kernel = 3;        ///< conv kernel edge ('same' padding)
  int64_t fc1 = 128;         ///< first dense layer
  int64_t fc2 = 64;          ///< second dense layer
  int64_t targets = 4;       ///< regressed parameters
  double dropout = 0.5;      ///< after each hidden dense layer
  double leaky_slope = 0.3;  ///< Keras LeakyReLU default, kept by the PyTorch port

  /// Edge of the volume after every pool.
  int64_t final_edge() const { return volume >> conv_layers; }
  /// Channels of the last conv.
  int64_t final_channels() const { return filters << (conv_layers - 1); }
  /// Inputs of the first dense layer.
  int64_t flat_features() const {
    return final_edge() * final_edge() * final_edge() * final_channels();
  }
};

/// The CosmoFlow network: conv blocks, flatten (channels last, as the Keras reference), dense head.
class CosmoFlowNetImpl : public torch::nn::Module {
 public:
  explicit CosmoFlowNetImpl(const CosmoFlowConfig& config) : config_(config) {
    int64_t in = config.channels;
    for (int64_t i = 0; i < config.conv_layers; ++i) {
      int64_t out = config.filters << i;
      convs_.push_back(
          register_module("conv" + std::to_string(i + 1),
                          torch::nn::Conv3d(torch::nn::Conv3dOptions(in, out, config.kernel)
                                                .padding(config.kernel / 2)
                                                .bias(true))));
      in = out;
    }
    fc1_ = register_module("fc1", torch::nn::Linear(config.flat_features(), config.fc1));
    fc2_ = register_module("fc2", torch::nn::Linear(config.fc1, config.fc2));
    out_ = register_module("output", torch::nn::Linear(config.fc2, config.targets));
    dropout1_ = register_module("dropout1", torch::nn::Dropout(config.dropout));
    dropout2_ = register_module("dropout2", torch::nn::Dropout(config.dropout));
    // Keras' default (and the PyTorch port's explicit) initialisation: Glorot uniform, zero bias.
    torch::NoGradGuard no_grad;
    for (auto& conv : convs_) {
      torch::nn::init::xavier_uniform_(conv->weight);
      conv->bias.zero_();
    }
    for (torch::nn::Linear* fc : {&fc1_, &fc2_, &out_}) {
      torch::nn::init::xavier_uniform_((*fc)->weight);
      (*fc)->bias.zero_();
    }
  }

  /// Predicted parameters in (-1.2, 1.2): [N, targets].
  torch::Tensor forward(torch::Tensor x) {
    const double slope = config_.leaky_slope;
    for (auto& conv : convs_) {
      x = torch::max_pool3d(torch::leaky_relu(counted(conv, x), slope), 2);
    }
    // Flatten in NDHWC order like the Keras reference (free when channels_last).
    x = x.permute({0, 2, 3, 4, 1}).flatten(1);
    x = dropout1_(torch::leaky_relu(counted(fc1_, x), slope));
    x = dropout2_(torch::leaky_relu(counted(fc2_, x), slope));
    return 1.2 * torch::tanh(counted(out_, x));
  }

 private:
  CosmoFlowConfig config_;
  std::vector<torch::nn::Conv3d> convs_;
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr}, out_{nullptr};
  torch::nn::Dropout dropout1_{nullptr}, dropout2_{nullptr};
};
TORCH_MODULE(CosmoFlowNet);

class CosmoFlowModel : public ModelWorkload {
 public:
  static WorkloadInfo info() {
    return quality_model_info(
        "model/cosmoflow",
        "CosmoFlow 3D CNN (MLPerf HPC, HPC AI500 cosmology): 4 cosmological parameters from "
        "4-channel particle-count volumes, MSE loss, SGD momentum training",
        {ParamSpec::integer("volume", 0,
                            "input edge D = H = W, a multiple of 32 (0: preset: 32 / 64 / 128)", 0),
         ParamSpec::integer("filters", 0,
                            "filters of the first conv, doubled per layer (0: preset: 8 / 32 / "
                            "32)",
                            0)});
  }

  explicit CosmoFlowModel(const Problem& problem) : ModelWorkload(problem) {
    // Quality runs at small train the tiny geometry: a 2-core CPU reaches the target in minutes.
    config_.volume = param_or("volume", task_data_ ? by_size<int64_t>(size_, 32, 32, 128)
                                                   : by_size<int64_t>(size_, 32, 64, 128));
    config_.filters = param_or("filters", task_data_ ? by_size<int64_t>(size_, 8, 8, 32)
                                                     : by_size<int64_t>(size_, 8, 32, 32));
    if (config_.volume % (int64_t{1} << config_.conv_layers) != 0) {
      throw Error("model/cosmoflow: volume must be a multiple of 32 (5 max pools of 2)");
    }
  }

  Flops analytic_flops() const override {
    const CosmoFlowConfig& c = config_;
    const double kernel_volume = static_cast<double>(c.kernel * c.kernel * c.kernel);
    double forward = 0, first = 0;
    int64_t in = c.channels, edge = c.volume;
    for (int64_t i = 0; i < c.conv_layers; ++i) {
      int64_t out = c.filters << i;
      // 'same' conv at the block's input resolution, then the pool halves it.
      double flops = 2.0 * static_cast<double>(edge * edge * edge) * static_cast<double>(out) *
                     static_cast<double>(in) * kernel_volume;
      if (i == 0) first = flops;
      forward += flops;
      in = out;
      edge /= 2;
    }
    forward +=
        2.0 * static_cast<double>(c.flat_features() * c.fc1 + c.fc1 * c.fc2 + c.fc2 * c.targets);
    // Training: data and weight gradients of every layer, except the data gradient of conv1.
    return {forward, 3 * forward - first};
  }

  ModelFacts model_facts() const override {
    ModelFacts f;
    f.summary = fmt::format(
        "CosmoFlow (MLPerf HPC reference), {}^3 x {}-channel volume, 5 conv3d "
        "blocks {}..{} filters, dense {}-{}-{}",
        config_.volume, config_.channels, config_.filters, config_.final_channels(), config_.fc1,
        config_.fc2, config_.targets);
    f.sample_unit = "volumes";
    f.preset_batch = task_data_ ? PresetBatch{8, 16, 4} : PresetBatch{1, 2, 4};
    f.optimizer = task_data_ ? "Adam, lr 0.001 (quality runs; not the reference's SGD schedule)"
                             : "SGD, momentum 0.9, constant lr 0.001 (the reference's base_lr; its "
                               "warm-up and step decay are not modelled)";
    if (config_.volume == 128 && config_.filters == 32) {
      f.published_parameters =
          PublishedCount{8907556, 0.0,
                         "mlcommons/hpc cosmoflow reference (configs/cosmo.yaml: conv_size 32, "
                         "kernel_size 3, fc 128/64/4); no count in the paper"};
    }
    return f;
  }

 protected:
  std::vector<std::pair<std::string, std::string>> facts() const override {
    const long long v = config_.volume;
    return {{"input", fmt::format("{} x {} x {} x {} (C x D x H x W), log1p of particle "
                                  "counts",
                                  config_.channels, v, v, v)},
            {"conv blocks",
             fmt::format("{} x [conv3d {}x{}x{} same, leaky ReLU {:.1f}, "
                         "max pool 2], filters {}..{}",
                         config_.conv_layers, config_.kernel, config_.kernel, config_.kernel,
                         config_.leaky_slope, config_.filters, config_.final_channels())},
            {"head", fmt::format("flatten {}, dense {} + dropout {:.1f}, dense {} + dropout "
                                 "{:.1f}, dense {}, 1.2 x tanh",
                                 config_.flat_features(), config_.fc1, config_.dropout, config_.fc2,
                                 config_.dropout, config_.targets)},
            {"loss", "mean squared error over the 4 targets"}};
  }

  void build() override { cosmoflow_ = net().register_module("cosmoflow", CosmoFlowNet(config_)); }

  void make_batch() override {
    const int64_t v = config_.volume;
    auto options = torch::device(device());
    // Particle counts per voxel: Poisson draws around a log-normal density field (a stand-in
    // for the clustered N-body histograms), normalised as the reference does: log(1 + n).
    torch::Tensor density =
        torch::exp(0.8 * torch::randn({batch(), config_.channels, v, v, v}, options));
    volumes_ = to_format(torch::log1p(torch::poisson(density)));
    targets_ = torch::rand({batch(), config_.targets}, options) * 2 - 1;
  }

  std::unique_ptr<torch::optim::Optimizer> make_optimizer() override {
    // Quality runs: Adam, so that a CPU reaches the target in minutes without the reference's
    // large-batch warm-up schedule (docs/workloads/cosmoflow.md).
    if (task_data_) {
      return std::make_unique<torch::optim::Adam>(net().parameters(),
                                                  torch::optim::AdamOptions(1e-3));
    }
    return std::make_unique<torch::optim::SGD>(net().parameters(),
                                               torch::optim::SGDOptions(1e-3).momentum(0.9));
  }

  torch::Tensor training_loss() override {
    return torch::mse_loss(cosmoflow_->forward(volumes_).to(torch::kFloat), targets_);
  }

  torch::Tensor inference() override { return cosmoflow_->forward(volumes_).to(torch::kFloat); }

  // --- Quality: regression of the known parameters of Gaussian random fields ---
  std::optional<QualitySpec> quality_spec() const override {
    QualitySpec spec;
    spec.task = "cosmological parameter regression";
    spec.dataset = fmt::format(
        "Gaussian random fields with 4 known parameters ({} train / {} "
        "held-out volumes, generated by the loader)",
        field_samples(true), field_samples(false));
    spec.metric = "mae";
    spec.unit = "";
    spec.higher_is_better = false;
    spec.target = by_size(size_, 0.40, 0.30, 0.124);
    spec.target_source =
        size_ == Size::kFull
            ? "MLPerf HPC CosmoFlow's target MAE (on N-body data; here on the "
              "generated fields)"
            : "dlbench's CPU bar; predicting 0 scores 0.5 (docs/workloads/cosmoflow.md)";
    spec.eval_every_epochs = 1;
    spec.max_epochs = by_size(size_, 10.0, 15.0, 50.0);
    return spec;
  }

  int64_t field_samples(bool train) const {
    int64_t n = by_size<int64_t>(size_, 256, 1024, 16384);
    return train ? n : n / 4;
  }

  std::pair<std::shared_ptr<const data::BatchSource>, std::shared_ptr<const data::BatchSource>>
  quality_data() override {
    return {std::make_shared<GaussianFieldSource>(field_samples(true), config_.volume,
                                                  config_.channels, 1),
            std::make_shared<GaussianFieldSource>(field_samples(false), config_.volume,
                                                  config_.channels, 2)};
  }

  void use_batch(const data::Batch& batch) override {
    volumes_ = to_format(batch.tensors.at(0).to(device()));
    targets_ = batch.tensors.at(1).to(device());
  }
  void begin_scoring() override { mae_ = nn::MeanAbsoluteError(); }
  void score_batch(const data::Batch& batch) override {
    torch::Tensor volumes = to_format(batch.tensors.at(0).to(device()));
    mae_.add(cosmoflow_->forward(volumes).to(torch::kFloat), batch.tensors.at(1));
  }
  double scored_quality() override { return mae_.value(); }

 private:
  CosmoFlowConfig config_;
  CosmoFlowNet cosmoflow_{nullptr};
  torch::Tensor volumes_, targets_;
  nn::MeanAbsoluteError mae_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(CosmoFlowModel);

}  // namespace dlbench::model
