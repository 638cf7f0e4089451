// model/dcgan: CosmoGAN, the HPC AI500 cosmology image-generation benchmark. Mustafa et al.,
// "CosmoGAN: creating high-fidelity weak lensing convergence maps using Generative Adversarial
// Networks", Computational Astrophysics and Cosmology 6:1 (2019), arXiv:1706.02390: a DCGAN
// (Radford et al. 2016, arXiv:1511.06434) on 256 x 256 single-channel convergence maps. One
// training step = one discriminator update then one generator update, each with its own Adam.
// FLOPs: dcgan_flops below, documented in docs/workloads/dcgan.md.
#include <fmt/core.h>
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "workloads/model/model.h"

namespace dlbench::model {
namespace {

constexpr int64_t kLayers = 4;  // transposed convs of G, convs of D (CosmoGAN ng = nd = 4)
constexpr int64_t kKernel = 5;  // every (transposed) conv is 5x5, stride 2

/// The configuration: maps of `image` x `image`, latent size, generator and discriminator widths.
struct GanShape {
  int64_t image = 256;
  int64_t latent = 64;
  int64_t gf = 64;  ///< channels of G's last hidden layer; its first has 8 gf
  int64_t df = 64;  ///< channels of D's first conv; its last has 8 df
  int64_t seed_map() const { return image / 16; }  ///< side of G's first feature map
};

/// Per-map forward FLOPs of each network (2 per MAC) and their first layers' shares.
struct GanFlops {
  double generator = 0;
  double generator_first = 0;  ///< the latent -> 8gf x s x s linear (its input needs no grad)
  double discriminator = 0;
  double discriminator_first = 0;  ///< conv 1 -> df
};

GanFlops dcgan_flops(const GanShape& g) {
  const double k2 = static_cast<double>(kKernel * kKernel);
  GanFlops f;
  double side = static_cast<double>(g.seed_map());
  double channels = 8.0 * static_cast<double>(g.gf);
  f.generator_first = 2 * static_cast<double>(g.latent) * channels * side * side;
  f.generator = f.generator_first;
  for (int64_t layer = 1; layer <= kLayers; ++layer) {
    // Transposed conv: every input element scatters into C_out x 5 x 5 outputs.
    double out = layer == kLayers ? 1.0 : channels / 2;
    f.generator += 2 * channels * side * side * out * k2;
    channels = out;
    side *= 2;
  }
  side = static_cast<double>(g.image);
  channels = 1;
  for (int64_t layer = 0; layer < kLayers; ++layer) {
    double out = static_cast<double>(g.df << layer);
    side /= 2;
    double conv = 2 * out * side * side * channels * k2;
    if (layer == 0) f.discriminator_first = conv;
    f.discriminator += conv;
    channels = out;
  }
  f.discriminator += 2 * channels * side * side;  // linear to one logit
  return f;
}

/// DCGAN generator: z -> linear -> 8gf x s x s -> BN, ReLU -> four 5x5 stride-2 transposed convs
/// (BN + ReLU after the first three) -> tanh, one channel of image x image.
struct GeneratorImpl : torch::nn::Module {
  explicit GeneratorImpl(const GanShape& g) : seed_map(g.seed_map()), channels(8 * g.gf) {
    project =
        register_module("project", torch::nn::Linear(g.latent, channels * seed_map * seed_map));
    norms.push_back(register_module("bn0", torch::nn::BatchNorm2d(channels)));
    int64_t in = channels;
    for (int64_t layer = 1; layer <= kLayers; ++layer) {
      int64_t out = layer == kLayers ? 1 : in / 2;
      // padding 2 + output_padding 1: exactly doubles the side (TensorFlow "SAME", stride 2).
      deconvs.push_back(register_module(
          "deconv" + std::to_string(layer),
          torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(in, out, kKernel)
                                         .stride(2)
                                         .padding(2)
                                         .output_padding(1))));
      if (layer < kLayers) {
        norms.push_back(register_module("bn" + std::to_string(layer), torch::nn::BatchNorm2d(out)));
      }
      in = out;
    }
  }

  torch::Tensor forward(const torch::Tensor& z, torch::MemoryFormat format) {
    torch::Tensor x = counted(project, z).view({z.size(0), channels, seed_map, seed_map});
    x = torch::relu(norms[0](x.contiguous(format)));
    for (size_t i = 0; i < deconvs.size(); ++i) {
      x = counted(deconvs[i], x);
      x = i + 1 < deconvs.size() ? torch::relu(norms[i + 1](x)) : torch::tanh(x);
    }
    return x;
  }

  int64_t seed_map, channels;
  torch::nn::Linear project{nullptr};
  std::vector<torch::nn::ConvTranspose2d> deconvs;
  std::vector<torch::nn::BatchNorm2d> norms;
};
TORCH_MODULE(Generator);

/// DCGAN discriminator: four 5x5 stride-2 convs 1 -> df -> 2df -> 4df -> 8df, leaky ReLU 0.2
/// (batch norm on all but the first), linear to one logit.
struct DiscriminatorImpl : torch::nn::Module {
  explicit DiscriminatorImpl(const GanShape& g) {
    int64_t in = 1;
    for (int64_t layer = 0; layer < kLayers; ++layer) {
      int64_t out = g.df << layer;
      convs.push_back(register_module(
          "conv" + std::to_string(layer + 1),
          torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kKernel).stride(2).padding(2))));
      if (layer > 0) {
        norms.push_back(register_module("bn" + std::to_string(layer), torch::nn::BatchNorm2d(out)));
      }
      in = out;
    }
    classify = register_module("classify", torch::nn::Linear(in * g.seed_map() * g.seed_map(), 1));
  }

  /// Maps [B, 1, H, W] -> logits [B, 1].
  torch::Tensor forward(const torch::Tensor& maps) {
    torch::Tensor x = maps;
    for (size_t i = 0; i < convs.size(); ++i) {
      x = counted(convs[i], x);
      if (i > 0) x = norms[i - 1](x);
      x = torch::leaky_relu(x, 0.2);
    }
    return counted(classify, x.flatten(1));
  }

  std::vector<torch::nn::Conv2d> convs;
  std::vector<torch::nn::BatchNorm2d> norms;
  torch::nn::Linear classify{nullptr};
};
TORCH_MODULE(Discriminator);

class DcganModel : public ModelWorkload {
 public:
  static WorkloadInfo info() {
    return model_info(
        "model/dcgan",
        "CosmoGAN (HPC AI500): DCGAN generating 256x256 weak-lensing convergence maps; a step "
        "is one discriminator and one generator Adam update",
        {ParamSpec::integer("image", 0, "map side, a multiple of 16 (0: preset: 32 / 64 / 256)", 0),
         ParamSpec::integer("width", 0,
                            "gf = df: channels of G's last and D's first hidden layer (0: preset: "
                            "8 / 64 / 64)",
                            0),
         ParamSpec::integer("latent", 0, "latent size (0: preset: 64)", 0)});
  }

  explicit DcganModel(const Problem& problem) : ModelWorkload(problem) {
    shape_.image = param_or("image", by_size<int64_t>(size_, 32, 64, 256));
    shape_.gf = shape_.df = param_or("width", by_size<int64_t>(size_, 8, 64, 64));
    shape_.latent = param_or("latent", 64);
    if (shape_.image < 16 || shape_.image % 16 != 0) {
      throw Error("model/dcgan: image must be a multiple of 16 (four stride-2 layers)");
    }
  }

  Flops analytic_flops() const override {
    GanFlops f = dcgan_flops(shape_);
    const double g = f.generator, d = f.discriminator;
    // Discriminator update: G forward without grad; D on the real and the generated batch, each
    // backward with weight gradients and data gradients for all but the first conv.
    double d_update = g + 2 * (d + d + (d - f.discriminator_first));
    // Generator update (D's weights frozen): G forward, D forward, D data gradients down to the
    // maps, G's weight and data gradients (none for the latent input).
    double g_update = g + d + d + g + (g - f.generator_first);
    // `forward` is one inference pass (generating maps); `train` the whole alternating step.
    return {g, d_update + g_update};
  }

  ModelFacts model_facts() const override {
    ModelFacts f;
    f.summary = fmt::format(
        "CosmoGAN DCGAN, {}x{} single-channel maps, latent {}, G {}..{} "
        "channels, D {}..{} channels",
        shape_.image, shape_.image, shape_.latent, 8 * shape_.gf, shape_.gf, shape_.df,
        8 * shape_.df);
    f.sample_unit = "maps";
    f.preset_batch = {4, 8, 64};
    f.optimizer = "Adam, lr 2e-4, beta1 0.5, beta2 0.999, one for G and one for D (CosmoGAN)";
    // No parameter count is published for CosmoGAN (see docs/workloads/dcgan.md).
    return f;
  }

  void teardown() override {
    ModelWorkload::teardown();  // releases the generator's optimizer
    generator_optimizer_ = nullptr;
    discriminator_optimizer_.reset();
  }

 protected:
  std::vector<std::pair<std::string, std::string>> facts() const override {
    GanFlops f = dcgan_flops(shape_);
    const long long s = shape_.seed_map(), gf = shape_.gf, df = shape_.df;
    return {
        {"maps", fmt::format("1 x {} x {}, values in [-1, 1]", shape_.image, shape_.image)},
        {"generator", fmt::format("linear {} -> {}x{}x{}, BN, ReLU; 5x5 stride-2 "
                                  "transposed convs {} -> {} -> {} -> {} -> 1 (BN + ReLU, "
                                  "tanh out)",
                                  shape_.latent, 8 * gf, s, s, 8 * gf, 4 * gf, 2 * gf, gf)},
        {"discriminator", fmt::format("5x5 stride-2 convs 1 -> {} -> {} -> {} -> {} "
                                      "(BN after all but the first, leaky ReLU 0.2), linear to 1",
                                      df, 2 * df, 4 * df, 8 * df)},
        {"generator forward FLOPs / map", fmt::format("{:.4g} GFLOP", f.generator / 1e9)},
        {"discriminator forward FLOPs / map", fmt::format("{:.4g} GFLOP", f.discriminator / 1e9)},
        {"step", training_ ? "D update (real + generated batch, G under no-grad), then G update "
                             "through D (D weights frozen)"
                           : "generate a batch of maps from fixed latents (eval mode)"},
        {"loss reported", "discriminator loss (BCE real + BCE generated)"},
        {"published parameters", "none stated by CosmoGAN (paper or code)"}};
  }

  void build() override {
    generator_ = net().register_module("generator", Generator(shape_));
    discriminator_ = net().register_module("discriminator", Discriminator(shape_));
    // DCGAN initialisation: weights N(0, 0.02), biases 0; batch-norm scales 1, shifts 0.
    torch::NoGradGuard no_grad;
    for (auto& module : net().modules(/*include_self=*/false)) {
      if (module->as<torch::nn::BatchNorm2d>() != nullptr) continue;
      for (auto& p : module->named_parameters(/*recurse=*/false)) {
        if (p.key() == "weight") p.value().normal_(0, 0.02);
        if (p.key() == "bias") p.value().zero_();
      }
    }
  }

  void make_batch() override {
    auto on_device = torch::device(device());
    const int64_t b = batch();
    // Stand-in convergence maps: CosmoGAN scales its maps into [-1, 1] (the tanh range).
    real_ = to_format(torch::rand({b, 1, shape_.image, shape_.image}, on_device) * 2 - 1);
    latents_ = torch::randn({b, shape_.latent}, on_device);
  }

  std::unique_ptr<torch::optim::Optimizer> make_optimizer() override {
    auto options = torch::optim::AdamOptions(2e-4).betas({0.5, 0.999});
    discriminator_optimizer_ =
        std::make_unique<torch::optim::Adam>(discriminator_->parameters(), options);
    auto generator_optimizer =
        std::make_unique<torch::optim::Adam>(generator_->parameters(), options);
    generator_optimizer_ = generator_optimizer.get();  // owned by the base from here on
    return generator_optimizer;
  }

  torch::Tensor training_loss() override {
    throw Error("model/dcgan: the GAN step is train_step(), not a single loss");
  }

  torch::Tensor train_step() override {
    // 1. Discriminator: real maps -> 1, generated maps -> 0.
    discriminator_optimizer_->zero_grad();
    torch::Tensor d_loss;
    {
      AutocastScope autocast(device().type(), compute_dtype());
      torch::Tensor fake;
      {
        torch::NoGradGuard no_grad;
        fake = generator_->forward(latents_, memory_format());
      }
      torch::Tensor real_logits = discriminator_->forward(real_).to(torch::kFloat);
      torch::Tensor fake_logits = discriminator_->forward(fake).to(torch::kFloat);
      d_loss = torch::binary_cross_entropy_with_logits(real_logits, torch::ones_like(real_logits)) +
               torch::binary_cross_entropy_with_logits(fake_logits, torch::zeros_like(fake_logits));
    }
    backward(d_loss);
    discriminator_optimizer_->step();

    // 2. Generator: make D call its maps real. D's weights are frozen so autograd computes only
    // the data gradients through D (TensorFlow's minimize(var_list=G) does the same).
    set_discriminator_trainable(false);
    generator_optimizer_->zero_grad();
    torch::Tensor g_loss;
    {
      AutocastScope autocast(device().type(), compute_dtype());
      torch::Tensor logits =
          discriminator_->forward(generator_->forward(latents_, memory_format())).to(torch::kFloat);
      g_loss = torch::binary_cross_entropy_with_logits(logits, torch::ones_like(logits));
    }
    backward(g_loss);
    generator_optimizer_->step();
    set_discriminator_trainable(true);
    return d_loss.detach();
  }

  torch::Tensor inference() override {
    torch::Tensor maps = generator_->forward(latents_, memory_format());
    return maps.to(torch::kFloat);
  }

 private:
  void set_discriminator_trainable(bool trainable) {
    for (torch::Tensor& p : discriminator_->parameters()) p.requires_grad_(trainable);
  }

  GanShape shape_;
  Generator generator_{nullptr};
  Discriminator discriminator_{nullptr};
  torch::Tensor real_, latents_;
  std::unique_ptr<torch::optim::Optimizer> discriminator_optimizer_;
  torch::optim::Optimizer* generator_optimizer_ = nullptr;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(DcganModel);

}  // namespace dlbench::model
