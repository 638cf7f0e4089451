// model/wide_deep: Wide & Deep Learning for Recommender Systems (Cheng et al., DLRS 2016; AI
// Matrix's recommendation): a wide linear model over the raw categorical ids and their hashed
// cross-products, jointly trained with a deep ReLU network (1024-512-256) over 32-dim embeddings
// of every categorical field concatenated with the continuous features (about 1200 inputs, as in
// the paper's app-recommendation model); the two logits are summed. FLOPs:
// WideDeepModel::analytic_flops; docs/workloads/wide_deep.md.
#include <fmt/core.h>

#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "workloads/model/recsys/recsys.h"

namespace dlbench::model {
namespace {

/// The network's shape.
struct WideDeepConfig {
  int64_t fields = 37;              ///< categorical fields (37 x 32 + 16 = 1200 deep inputs)
  int64_t vocabulary = 100000;      ///< ids per field (hashed)
  int64_t dim = 32;                 ///< deep embedding dimension (the paper's 32)
  int64_t dense = 16;               ///< continuous features
  int64_t crosses = 10;             ///< crossed features: hashes of field pairs (2i, 2i + 1)
  int64_t cross_buckets = 1000000;  ///< hash buckets per crossed feature
  std::vector<int64_t> hidden = {1024, 512, 256};
  double alpha = 1.05;  ///< Zipf exponent of the ids

  std::vector<int64_t> deep() const {
    std::vector<int64_t> widths = {fields * dim + dense};
    widths.insert(widths.end(), hidden.begin(), hidden.end());
    widths.push_back(1);
    return widths;
  }
  int64_t wide_rows() const { return fields * vocabulary + crosses * cross_buckets; }
};

class WideDeepModel : public RecsysWorkload {
 public:
  static WorkloadInfo info() {
    return model_info(
        "model/wide_deep",
        "Wide & Deep: a linear model over categorical ids and hashed crosses, jointly trained "
        "with a 1024-512-256 ReLU network over field embeddings; AdaGrad",
        {ParamSpec::integer("fields", 0, "categorical fields (0: preset: 8 / 26 / 37)"),
         ParamSpec::integer("vocabulary", 0, "ids per field (0: preset: 100 / 10000 / 100000)"),
         ParamSpec::integer("dim", 0, "deep embedding dimension (0: preset: 8 / 16 / 32)"),
         ParamSpec::integer("crosses", 0,
                            "crossed features, each a hash of a field pair (0: preset: 2 / 8 / "
                            "10)"),
         ParamSpec::integer("cross_buckets", 0,
                            "hash buckets per crossed feature (0: preset: 100 / 10000 / "
                            "1000000)"),
         ParamSpec::real("alpha", 1.05, "Zipf exponent of the ids (0: uniform)", 0.0, 5.0)});
  }

  explicit WideDeepModel(const Problem& problem) : RecsysWorkload(problem) {
    WideDeepConfig& c = config_;
    c.fields = param_or("fields", by_size<int64_t>(size_, 8, 26, 37));
    c.vocabulary = param_or("vocabulary", by_size<int64_t>(size_, 100, 10000, 100000));
    c.dim = param_or("dim", by_size<int64_t>(size_, 8, 16, 32));
    c.dense = by_size<int64_t>(size_, 4, 13, 16);
    c.crosses = param_or("crosses", by_size<int64_t>(size_, 2, 8, 10));
    c.cross_buckets = param_or("cross_buckets", by_size<int64_t>(size_, 100, 10000, 1000000));
    c.hidden = by_size<std::vector<int64_t>>(size_, {32, 16}, {256, 128, 64}, {1024, 512, 256});
    c.alpha = problem.get_double("alpha");
    if (2 * c.crosses > c.fields) {
      throw Error("model/wide_deep: crosses pair fields (2i, 2i + 1): at most fields / 2");
    }
  }

  Flops analytic_flops() const override {
    // The wide part is a sum of looked-up weights (an embedding bag), not a GEMM.
    return {mlp_flops(config_.deep()), mlp_train_flops(config_.deep(), true)};
  }

  ModelFacts model_facts() const override {
    const WideDeepConfig& c = config_;
    std::vector<std::string> widths;
    for (int64_t w : c.deep()) widths.push_back(std::to_string(w));
    ModelFacts f;
    f.summary = fmt::format("Wide & Deep, {} fields x {} ids, {} crosses x {} buckets, deep {}",
                            c.fields, c.vocabulary, c.crosses, c.cross_buckets, join(widths, "-"));
    f.sample_unit = "samples";
    f.preset_batch = {32, 512, 1024};
    f.optimizer =
        "AdaGrad lr 0.05 for both parts (the paper trains the wide part with FTRL + L1, "
        "which LibTorch does not provide)";
    return f;
  }

 protected:
  std::vector<std::pair<std::string, std::string>> facts() const override {
    const WideDeepConfig& c = config_;
    return {
        {"inputs", fmt::format("{} categorical ids (Zipf {:.2f}) and {} continuous features "
                               "per sample; {} crossed ids hashed from field pairs",
                               c.fields, c.alpha, c.dense, c.crosses)},
        {"wide", fmt::format("{} weights: one per id and per cross bucket, summed", c.wide_rows())},
        {"deep", fmt::format("{} x {}-dim embeddings + {} continuous -> ReLU MLP", c.fields, c.dim,
                             c.dense)},
        {"loss", "binary cross-entropy on wide logit + deep logit"}};
  }

  void build() override {
    const WideDeepConfig& c = config_;
    for (int64_t f = 0; f < c.fields; ++f) {
      fields_.push_back(net().register_module("field" + std::to_string(f),
                                              torch::nn::Embedding(c.vocabulary, c.dim)));
    }
    wide_ = net().register_module("wide", torch::nn::Embedding(c.wide_rows(), 1));
    {
      torch::NoGradGuard no_grad;
      wide_->weight.zero_();
    }
    deep_ = net().register_module("deep", Mlp(c.deep(), false));
  }

  Requests make_requests(int64_t count) override {
    const WideDeepConfig& c = config_;
    auto options = torch::device(device());
    torch::Tensor ids = zipf_ids({count, c.fields}, c.vocabulary, c.alpha, device());
    torch::Tensor dense = torch::randn({count, c.dense}, options);
    // Wide ids: each field's ids after the previous fields' rows, then each cross's hashed ids.
    torch::Tensor field_offsets =
        torch::arange(c.fields, torch::dtype(torch::kLong).device(device())) * c.vocabulary;
    std::vector<torch::Tensor> wide = {ids + field_offsets};
    torch::Tensor scores = dense.matmul(hidden_weights(torch::arange(c.dense, options), 7)) / 2;
    for (int64_t k = 0; k < c.crosses; ++k) {
      torch::Tensor cross =
          (ids.select(1, 2 * k) * 1000003 + ids.select(1, 2 * k + 1)).remainder(c.cross_buckets);
      wide.push_back((cross + c.fields * c.vocabulary + k * c.cross_buckets).unsqueeze(1));
      scores = scores + hidden_weights(cross, 100 + k);
    }
    for (int64_t f = 0; f < c.fields; ++f) {
      scores = scores + 0.5 * hidden_weights(ids.select(1, f), f);
    }
    Requests r;
    r.inputs = {ids, dense, torch::cat(wide, 1)};
    r.labels = clicks_from_scores(scores);
    return r;
  }

  std::vector<torch::Tensor> embed(const Requests& r) override {
    std::vector<torch::Tensor> e = {counted(wide_, r.inputs[2])};
    for (size_t f = 0; f < fields_.size(); ++f) {
      e.push_back(counted(fields_[f], r.inputs[0].select(1, static_cast<int64_t>(f))));
    }
    return e;
  }

  torch::Tensor predict(const std::vector<torch::Tensor>& e, const Requests& r) override {
    torch::Tensor wide_logit = e[0].sum({1, 2});
    std::vector<torch::Tensor> deep_in(e.begin() + 1, e.end());
    deep_in.push_back(r.inputs[1]);
    torch::Tensor deep_logit = deep_->forward(torch::cat(deep_in, 1)).squeeze(1);
    return wide_logit + deep_logit.to(torch::kFloat);
  }

  std::unique_ptr<torch::optim::Optimizer> make_optimizer() override {
    return std::make_unique<torch::optim::Adagrad>(net().parameters(),
                                                   torch::optim::AdagradOptions(0.05));
  }

 private:
  WideDeepConfig config_;
  std::vector<torch::nn::Embedding> fields_;
  torch::nn::Embedding wide_{nullptr};
  Mlp deep_{nullptr};
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(WideDeepModel);

}  // namespace dlbench::model
