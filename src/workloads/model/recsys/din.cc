// model/din: Deep Interest Network (Zhou et al., "Deep Interest Network for Click-Through Rate
// Prediction", KDD 2018; AI Matrix's recommendation): the candidate item attends over the user's
// behaviour sequence (variable length, masked) through a local activation unit (an MLP on
// [candidate, behaviour, difference, product] with Dice), the activation weights pool the
// behaviours without softmax normalisation (Section 4.3), and a 200-80-2 Dice MLP predicts the
// click. Item and category embeddings of 64 dimensions each as in the authors' code for Amazon
// Electronics. FLOPs: DinModel::analytic_flops; docs/workloads/din.md.
#include <fmt/core.h>

#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "workloads/model/recsys/recsys.h"

namespace dlbench::model {
namespace {

/// The network's shape.
struct DinConfig {
  int64_t items = 63001;  ///< Amazon Electronics items (the authors' code)
  int64_t categories = 801;
  int64_t dim = 64;        ///< item and category embedding dimension each
  int64_t sequence = 100;  ///< behaviours per user, padded (lengths vary in [1, sequence])
  double alpha = 1.0;      ///< Zipf exponent of item ids

  /// One behaviour (or candidate): item and category embeddings concatenated.
  int64_t behaviour() const { return 2 * dim; }
  /// The local activation unit: [q, k, q - k, q * k] -> 80 -> 40 -> 1.
  std::vector<int64_t> attention() const { return {4 * behaviour(), 80, 40, 1}; }
  /// The prediction MLP on [pooled interest, candidate].
  std::vector<int64_t> head() const { return {2 * behaviour(), 200, 80, 2}; }
};

class DinModel : public RecsysWorkload {
 public:
  static WorkloadInfo info() {
    return model_info(
        "model/din",
        "Deep Interest Network: candidate-item attention over a variable-length, masked "
        "behaviour sequence, Dice MLPs, two-way softmax click prediction; SGD",
        {ParamSpec::integer("items", 0, "items (0: preset: 1000 / 20000 / 63001)"),
         ParamSpec::integer("categories", 0, "item categories (0: preset: 50 / 400 / 801)"),
         ParamSpec::integer("dim", 0,
                            "item and category embedding dimension each (0: preset: 8 / 32 / 64)"),
         ParamSpec::integer("sequence", 0,
                            "behaviours per user, padded; lengths vary in [1, sequence] (0: "
                            "preset: 10 / 50 / 100)"),
         ParamSpec::real("alpha", 1.0, "Zipf exponent of item ids (0: uniform)", 0.0, 5.0)});
  }

  explicit DinModel(const Problem& problem) : RecsysWorkload(problem) {
    DinConfig& c = config_;
    c.items = param_or("items", by_size<int64_t>(size_, 1000, 20000, 63001));
    c.categories = param_or("categories", by_size<int64_t>(size_, 50, 400, 801));
    c.dim = param_or("dim", by_size<int64_t>(size_, 8, 32, 64));
    c.sequence = param_or("sequence", by_size<int64_t>(size_, 10, 50, 100));
    c.alpha = problem.get_double("alpha");
  }

  Flops analytic_flops() const override {
    const DinConfig& c = config_;
    const double t = static_cast<double>(c.sequence);
    // Every padded position runs the activation unit (masked afterwards), then the weighted sum
    // is a [1 x T] x [T x behaviour] product.
    const double pooling = 2.0 * t * static_cast<double>(c.behaviour());
    const double forward = t * mlp_flops(c.attention()) + pooling + mlp_flops(c.head());
    // Inputs come from embeddings: every layer has a data gradient; the product has two operands
    // that need one.
    const double train =
        t * mlp_train_flops(c.attention(), true) + 3 * pooling + mlp_train_flops(c.head(), true);
    return {forward, train};
  }

  ModelFacts model_facts() const override {
    const DinConfig& c = config_;
    ModelFacts f;
    f.summary = fmt::format(
        "DIN, {} items x {} categories, {}+{}-dim embeddings, {} "
        "behaviours, activation unit {}-80-40-1, MLP {}-200-80-2 (Dice)",
        c.items, c.categories, c.dim, c.dim, c.sequence, c.attention().front(), c.head().front());
    f.sample_unit = "samples";
    f.preset_batch = {32, 256, 1024};
    f.optimizer = fmt::format(
        "SGD lr {:g} (the authors' code: 1.0 at full size, its decay not modelled; "
        "0.1 for the small presets, whose few dozen steps on a fixed batch diverge "
        "at 1.0)",
        learning_rate());
    return f;
  }

 protected:
  std::vector<std::pair<std::string, std::string>> facts() const override {
    return {{"inputs",
             fmt::format("a candidate (item, category) and up to {} behaviours (items and their "
                         "categories, Zipf({:.2f}) items), lengths uniform in [1, {}], padded and "
                         "masked",
                         config_.sequence, config_.alpha, config_.sequence)},
            {"attention",
             "activation weights are not softmax-normalised (the paper's choice); "
             "padded behaviours get weight 0"},
            {"loss", "two-way softmax cross-entropy (click / no click)"}};
  }

  void build() override {
    const DinConfig& c = config_;
    item_ = net().register_module("item_embedding", torch::nn::Embedding(c.items, c.dim));
    category_ =
        net().register_module("category_embedding", torch::nn::Embedding(c.categories, c.dim));
    attention_ = net().register_module("activation_unit", DiceMlp(c.attention()));
    head_ = net().register_module("head", DiceMlp(c.head()));
  }

  Requests make_requests(int64_t count) override {
    const DinConfig& c = config_;
    torch::Tensor items = zipf_ids({count, c.sequence}, c.items, c.alpha, device());
    torch::Tensor candidates = zipf_ids({count}, c.items, c.alpha, device());
    torch::Tensor mask = behaviour_mask(count, c.sequence, 1, device());
    // An item's category is a fixed function of the item.
    torch::Tensor categories = items.remainder(c.categories);
    torch::Tensor candidate_categories = candidates.remainder(c.categories);
    // Interest: how well the behaviours' categories match the candidate's, plus the item itself.
    torch::Tensor match = category_match(categories, candidate_categories, mask);
    Requests r;
    r.inputs = {items, categories, mask, candidates, candidate_categories};
    r.labels = clicks_from_scores(match + 0.5 * hidden_weights(candidates, 2));
    return r;
  }

  std::vector<torch::Tensor> embed(const Requests& r) override {
    return {torch::cat({counted(item_, r.inputs[0]), counted(category_, r.inputs[1])}, -1),
            torch::cat({counted(item_, r.inputs[3]), counted(category_, r.inputs[4])}, -1)};
  }

  torch::Tensor predict(const std::vector<torch::Tensor>& e, const Requests& r) override {
    const torch::Tensor& keys = e[0];                         // [n, T, b]
    torch::Tensor query = e[1].unsqueeze(1).expand_as(keys);  // [n, T, b]
    torch::Tensor unit_in = torch::cat({query, keys, query - keys, query * keys}, -1);
    torch::Tensor weights = attention_->forward(unit_in).squeeze(-1) * r.inputs[2];  // [n, T]
    torch::Tensor pooled =
        counted_matmul(weights.unsqueeze(1).to(keys.scalar_type()), keys).squeeze(1);
    return head_->forward(torch::cat({pooled.to(e[1].scalar_type()), e[1]}, -1));
  }

  std::unique_ptr<torch::optim::Optimizer> make_optimizer() override {
    return std::make_unique<torch::optim::SGD>(net().parameters(),
                                               torch::optim::SGDOptions(learning_rate()));
  }

 private:
  double learning_rate() const { return size_ == Size::kFull ? 1.0 : 0.1; }

  DinConfig config_;
  torch::nn::Embedding item_{nullptr}, category_{nullptr};
  DiceMlp attention_{nullptr}, head_{nullptr};
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(DinModel);

}  // namespace dlbench::model
