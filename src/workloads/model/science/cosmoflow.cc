// model/cosmoflow: the MLPerf HPC CosmoFlow benchmark (HPC AI500 cosmology): a 3D CNN that
// regresses 4 cosmological parameters from 4-channel (redshift bins) dark-matter particle-count
// volumes. Mathuriya et al., "CosmoFlow: Using Deep Learning to Learn the Universe at Scale",
// SC18; the network is the MLPerf HPC reference (mlcommons/hpc cosmoflow, configs/cosmo.yaml):
// 5 x [3x3x3 'same' conv, leaky ReLU 0.3, 2x2x2 max pool] with 32..512 filters, dense 128 and 64
// with leaky ReLU and dropout 0.5, dense 4 with 1.2 x tanh. MSE loss, SGD momentum 0.9.
// FLOPs: CosmoFlowModel::analytic_flops; see docs/workloads/cosmoflow.md.
#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "workloads/model/model.h"

namespace dlbench::model {
namespace {

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
    return model_info(
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
    config_.volume = param_or("volume", by_size<int64_t>(size_, 32, 64, 128));
    config_.filters = param_or("filters", by_size<int64_t>(size_, 8, 32, 32));
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

  std::optional<PublishedCount> published_parameters() const override {
    if (config_.volume != 128 || config_.filters != 32) return std::nullopt;
    return PublishedCount{8907556, 0.0,
                          "mlcommons/hpc cosmoflow reference (configs/cosmo.yaml: conv_size 32, "
                          "kernel_size 3, fc 128/64/4); no count in the paper"};
  }

 protected:
  int64_t preset_batch(Size size) const override { return by_size<int64_t>(size, 1, 2, 4); }
  std::string sample_unit() const override { return "volumes"; }
  std::string summary() const override {
    return strprintf(
        "CosmoFlow (MLPerf HPC reference), %lld^3 x %lld-channel volume, 5 conv3d "
        "blocks %lld..%lld filters, dense %lld-%lld-%lld",
        static_cast<long long>(config_.volume), static_cast<long long>(config_.channels),
        static_cast<long long>(config_.filters), static_cast<long long>(config_.final_channels()),
        static_cast<long long>(config_.fc1), static_cast<long long>(config_.fc2),
        static_cast<long long>(config_.targets));
  }
  std::vector<std::pair<std::string, std::string>> facts() const override {
    const long long v = config_.volume;
    return {{"input", strprintf("%lld x %lld x %lld x %lld (C x D x H x W), log1p of particle "
                                "counts",
                                static_cast<long long>(config_.channels), v, v, v)},
            {"conv blocks", strprintf("%lld x [conv3d %lldx%lldx%lld same, leaky ReLU %.1f, "
                                      "max pool 2], filters %lld..%lld",
                                      static_cast<long long>(config_.conv_layers),
                                      static_cast<long long>(config_.kernel),
                                      static_cast<long long>(config_.kernel),
                                      static_cast<long long>(config_.kernel), config_.leaky_slope,
                                      static_cast<long long>(config_.filters),
                                      static_cast<long long>(config_.final_channels()))},
            {"head", strprintf("flatten %lld, dense %lld + dropout %.1f, dense %lld + dropout "
                               "%.1f, dense %lld, 1.2 x tanh",
                               static_cast<long long>(config_.flat_features()),
                               static_cast<long long>(config_.fc1), config_.dropout,
                               static_cast<long long>(config_.fc2), config_.dropout,
                               static_cast<long long>(config_.targets))},
            {"loss", "mean squared error over the 4 targets"}};
  }
  std::string optimizer_name() const override {
    return "SGD, momentum 0.9, constant lr 0.001 (the reference's base_lr; its warm-up and "
           "step decay are not modelled)";
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
    return std::make_unique<torch::optim::SGD>(net().parameters(),
                                               torch::optim::SGDOptions(1e-3).momentum(0.9));
  }

  torch::Tensor training_loss() override {
    return torch::mse_loss(cosmoflow_->forward(volumes_).to(torch::kFloat), targets_);
  }

  torch::Tensor inference() override { return cosmoflow_->forward(volumes_).to(torch::kFloat); }

 private:
  CosmoFlowConfig config_;
  CosmoFlowNet cosmoflow_{nullptr};
  torch::Tensor volumes_, targets_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(CosmoFlowModel);

}  // namespace dlbench::model
