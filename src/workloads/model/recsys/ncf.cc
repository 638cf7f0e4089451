// model/ncf: Neural Collaborative Filtering, NeuMF (He et al., "Neural Collaborative
// Filtering", WWW 2017), in the configuration MLPerf trained on MovieLens-20M: a generalised
// matrix factorisation branch (64-dim user and item embeddings, element-wise product) and an MLP
// branch (128-dim user and item embeddings, concatenated, layers 256-128-64 with ReLU), fused by
// one linear layer to a click logit. Binary cross-entropy over positives and sampled negatives,
// Adam. FLOPs: NcfModel::analytic_flops; docs/workloads/ncf.md.
#include <fmt/core.h>

#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "workloads/model/recsys/recsys.h"

namespace dlbench::model {
namespace {

/// The network's shape.
struct NcfConfig {
  int64_t users = 138493;                          ///< MovieLens-20M users
  int64_t items = 26744;                           ///< MovieLens-20M items with ratings
  int64_t mf_dim = 64;                             ///< GMF embedding dimension
  std::vector<int64_t> mlp = {256, 256, 128, 64};  ///< MLP widths; embeddings are mlp[0] / 2
  double alpha = 1.0;                              ///< Zipf exponent of user and item ids

  int64_t mlp_dim() const { return mlp.front() / 2; }
  /// The fusion layer: [GMF output, MLP output] -> 1.
  std::vector<int64_t> predict() const { return {mf_dim + mlp.back(), 1}; }
};

class NcfModel : public RecsysWorkload {
 public:
  static WorkloadInfo info() {
    return model_info(
        "model/ncf",
        "NeuMF neural collaborative filtering (MLPerf, MovieLens-20M shape): GMF and MLP branches "
        "over user and item embeddings, fused to a click logit; Adam",
        {ParamSpec::integer("users", 0, "users (0: preset: 1000 / 20000 / 138493)"),
         ParamSpec::integer("items", 0, "items (0: preset: 500 / 5000 / 26744)"),
         ParamSpec::integer("mf_dim", 0, "GMF embedding dimension (0: preset: 8 / 32 / 64)"),
         ParamSpec::integer("mlp_width", 0,
                            "first MLP layer width; the layers are w, w, w/2, w/4 and the MLP "
                            "embeddings w/2 (0: preset: 32 / 128 / 256)"),
         ParamSpec::real("alpha", 1.0, "Zipf exponent of user and item ids (0: uniform)", 0.0,
                         5.0)});
  }

  explicit NcfModel(const Problem& problem) : RecsysWorkload(problem) {
    NcfConfig& c = config_;
    c.users = param_or("users", by_size<int64_t>(size_, 1000, 20000, 138493));
    c.items = param_or("items", by_size<int64_t>(size_, 500, 5000, 26744));
    c.mf_dim = param_or("mf_dim", by_size<int64_t>(size_, 8, 32, 64));
    const int64_t w = param_or("mlp_width", by_size<int64_t>(size_, 32, 128, 256));
    c.mlp = {w, w, w / 2, w / 4};
    c.alpha = problem.get_double("alpha");
  }

  Flops analytic_flops() const override {
    const NcfConfig& c = config_;
    const double forward = mlp_flops(c.mlp) + mlp_flops(c.predict());
    // Both layers' inputs come from embeddings, so every layer has a data gradient.
    return {forward, mlp_train_flops(c.mlp, true) + mlp_train_flops(c.predict(), true)};
  }

  ModelFacts model_facts() const override {
    const NcfConfig& c = config_;
    ModelFacts f;
    f.summary = fmt::format(
        "NeuMF, {} users x {} items, GMF {}-dim, MLP {}-{}-{}-{} on "
        "{}-dim embeddings",
        c.users, c.items, c.mf_dim, c.mlp[0], c.mlp[1], c.mlp[2], c.mlp[3], c.mlp_dim());
    f.sample_unit = "samples";
    f.preset_batch = {64, 4096, 65536};
    f.optimizer = fmt::format(
        "Adam lr {:g} (the paper's optimizer; its rate 0.001 at full size, 0.01 for the "
        "small presets so that a few dozen steps on a fixed batch learn)",
        learning_rate());
    return f;
  }

 protected:
  std::vector<std::pair<std::string, std::string>> facts() const override {
    return {{"inputs", fmt::format("a user id and an item id per sample, Zipf({:.2f}) popularity",
                                   config_.alpha)},
            {"labels",
             "clicks from a hidden model of user and item (balanced), standing in for "
             "MLPerf's positives with 4 sampled negatives each"},
            {"loss", "binary cross-entropy on the fused logit"}};
  }

  void build() override {
    const NcfConfig& c = config_;
    auto embedding = [&](const char* name, int64_t rows, int64_t dim) {
      auto e = net().register_module(name, torch::nn::Embedding(rows, dim));
      torch::NoGradGuard no_grad;
      e->weight.normal_(0, 0.01);  // the paper's N(0, 0.01) initialisation
      return e;
    };
    mf_user_ = embedding("mf_user", c.users, c.mf_dim);
    mf_item_ = embedding("mf_item", c.items, c.mf_dim);
    mlp_user_ = embedding("mlp_user", c.users, c.mlp_dim());
    mlp_item_ = embedding("mlp_item", c.items, c.mlp_dim());
    mlp_ = net().register_module("mlp", Mlp(c.mlp, true));
    predict_ = net().register_module("predict", Mlp(c.predict(), false));
  }

  Requests make_requests(int64_t count) override {
    Requests r;
    torch::Tensor users = zipf_ids({count}, config_.users, config_.alpha, device());
    torch::Tensor items = zipf_ids({count}, config_.items, config_.alpha, device());
    r.inputs = {users, items};
    // A user's taste times an item's profile: a rank-1 hidden preference.
    r.labels = clicks_from_scores(hidden_weights(users, 1) * hidden_weights(items, 2) +
                                  0.5 * hidden_weights(items, 3));
    return r;
  }

  std::vector<torch::Tensor> embed(const Requests& r) override {
    return {counted(mf_user_, r.inputs[0]), counted(mf_item_, r.inputs[1]),
            counted(mlp_user_, r.inputs[0]), counted(mlp_item_, r.inputs[1])};
  }

  torch::Tensor predict(const std::vector<torch::Tensor>& e, const Requests&) override {
    torch::Tensor gmf = e[0] * e[1];
    torch::Tensor mlp = mlp_->forward(torch::cat({e[2], e[3]}, 1));
    return predict_->forward(torch::cat({gmf.to(mlp.scalar_type()), mlp}, 1)).squeeze(1);
  }

  std::unique_ptr<torch::optim::Optimizer> make_optimizer() override {
    return std::make_unique<torch::optim::Adam>(net().parameters(),
                                                torch::optim::AdamOptions(learning_rate()));
  }

 private:
  double learning_rate() const { return size_ == Size::kFull ? 1e-3 : 1e-2; }

  NcfConfig config_;
  torch::nn::Embedding mf_user_{nullptr}, mf_item_{nullptr}, mlp_user_{nullptr}, mlp_item_{nullptr};
  Mlp mlp_{nullptr}, predict_{nullptr};
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(NcfModel);

}  // namespace dlbench::model
