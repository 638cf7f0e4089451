// model/dien: Deep Interest Evolution Network (Zhou et al., "Deep Interest Evolution Network for
// Click-Through Rate Prediction", AAAI 2019; AI Matrix's recommendation). An interest extractor
// GRU runs over the behaviour sequence, trained with the auxiliary loss (the hidden state must
// tell the next clicked behaviour from a sampled one); the candidate attends over the extracted
// interests (softmax over the valid behaviours), and an attention-update-gate GRU (AUGRU) evolves
// the interest towards the candidate; a 200-80-2 Dice MLP predicts the click. 18-dim user, item
// and category embeddings and 36-unit GRUs as in the authors' code. FLOPs:
// DienModel::analytic_flops; docs/workloads/dien.md.
#include <fmt/core.h>

#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "workloads/model/recsys/recsys.h"

namespace dlbench::model {
namespace {

/// The network's shape.
struct DienConfig {
  int64_t users = 543060;  ///< the Amazon Books vocabularies of the authors' code
  int64_t items = 367983;
  int64_t categories = 1601;
  int64_t dim = 18;        ///< user, item and category embedding dimension
  int64_t sequence = 100;  ///< behaviours per user, padded (lengths vary in [2, sequence])
  double alpha = 1.0;      ///< Zipf exponent of user and item ids

  /// One behaviour: item and category embeddings; also the GRUs' hidden size.
  int64_t behaviour() const { return 2 * dim; }
  /// The attention MLP on [query, interest, difference, product].
  std::vector<int64_t> attention() const { return {4 * behaviour(), 80, 40, 1}; }
  /// The auxiliary network on [interest h_t, behaviour e_{t+1}].
  std::vector<int64_t> auxiliary() const { return {2 * behaviour(), 100, 50, 2}; }
  /// The prediction MLP on [user, candidate, behaviour sum, candidate x sum, final interest].
  std::vector<int64_t> head() const { return {dim + 4 * behaviour(), 200, 80, 2}; }
};

/// The attention-update-gate GRU: a GRU whose update gate is scaled by the attention score,
/// u'_t = a_t u_t, h_t = (1 - u'_t) h_{t-1} + u'_t h~_t; padded steps keep the state.
class AugruImpl : public torch::nn::Module {
 public:
  explicit AugruImpl(int64_t hidden) : hidden_(hidden) {
    input_ = register_module("input", torch::nn::Linear(hidden, 3 * hidden));
    recurrent_ = register_module("recurrent", torch::nn::Linear(hidden, 3 * hidden));
  }

  /// x [n, T, H], scores and mask [n, T] -> the final state [n, H].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& scores,
                        const torch::Tensor& mask) {
    // The input-to-hidden GEMM of every step at once, as cuDNN does.
    std::vector<torch::Tensor> gates_x = counted(input_, x).chunk(3, -1);
    torch::Tensor h = torch::zeros({x.size(0), hidden_}, x.options());
    for (int64_t t = 0; t < x.size(1); ++t) {
      std::vector<torch::Tensor> gates_h = counted(recurrent_, h).chunk(3, -1);
      torch::Tensor reset = torch::sigmoid(gates_x[0].select(1, t) + gates_h[0]);
      torch::Tensor update = torch::sigmoid(gates_x[1].select(1, t) + gates_h[1]);
      torch::Tensor candidate = torch::tanh(gates_x[2].select(1, t) + reset * gates_h[2]);
      torch::Tensor gate = scores.select(1, t).unsqueeze(1) * update;
      torch::Tensor next = (1 - gate) * h + gate * candidate;
      torch::Tensor keep = mask.select(1, t).unsqueeze(1);
      h = keep * next + (1 - keep) * h;
    }
    return h;
  }

 private:
  int64_t hidden_;
  torch::nn::Linear input_{nullptr}, recurrent_{nullptr};
};
TORCH_MODULE(Augru);

class DienModel : public RecsysWorkload {
 public:
  static WorkloadInfo info() {
    return model_info(
        "model/dien",
        "Deep Interest Evolution Network: GRU interest extractor with the auxiliary loss, "
        "attention over interests, AUGRU interest evolution, Dice MLP; Adam",
        {ParamSpec::integer("users", 0, "users (0: preset: 1000 / 50000 / 543060)"),
         ParamSpec::integer("items", 0, "items (0: preset: 1000 / 50000 / 367983)"),
         ParamSpec::integer("categories", 0, "item categories (0: preset: 50 / 800 / 1601)"),
         ParamSpec::integer("dim", 0, "embedding dimension (0: preset: 8 / 18 / 18)"),
         ParamSpec::integer("sequence", 0,
                            "behaviours per user, padded; lengths vary in [2, sequence] (0: "
                            "preset: 8 / 50 / 100)"),
         ParamSpec::real("alpha", 1.0, "Zipf exponent of user and item ids (0: uniform)", 0.0,
                         5.0)});
  }

  explicit DienModel(const Problem& problem) : RecsysWorkload(problem) {
    DienConfig& c = config_;
    c.users = param_or("users", by_size<int64_t>(size_, 1000, 50000, 543060));
    c.items = param_or("items", by_size<int64_t>(size_, 1000, 50000, 367983));
    c.categories = param_or("categories", by_size<int64_t>(size_, 50, 800, 1601));
    c.dim = param_or("dim", by_size<int64_t>(size_, 8, 18, 18));
    c.sequence = param_or("sequence", by_size<int64_t>(size_, 8, 50, 100));
    if (c.sequence < 2) throw Error("model/dien: sequence must be at least 2");
    c.alpha = problem.get_double("alpha");
  }

  Flops analytic_flops() const override {
    const DienConfig& c = config_;
    const double t = static_cast<double>(c.sequence);
    const double b = static_cast<double>(c.behaviour());
    const double gru = 2.0 * t * 3 * b * (b + b);  // extractor: input and recurrent GEMMs
    const double augru = 2.0 * t * 3 * b * (b + b);
    const double step = 2.0 * 3 * b * b;  // one recurrent GEMM
    const double query = 2.0 * b * b;     // the candidate's query projection
    const double attention = t * mlp_flops(c.attention());
    const double forward = gru + query + attention + augru + mlp_flops(c.head());
    // Training adds the auxiliary network on T - 1 clicked and T - 1 sampled pairs. Every layer's
    // input descends from embeddings and needs a data gradient, except the AUGRU's first
    // recurrent product (it sees the zero initial state); the extractor's recurrent data
    // gradient follows the counted-GRU convention (every step).
    const double train = 3 * gru + 3 * query + t * mlp_train_flops(c.attention(), true) +
                         (3 * augru - step) + mlp_train_flops(c.head(), true) +
                         2 * (t - 1) * mlp_train_flops(c.auxiliary(), true);
    return {forward, train};
  }

  ModelFacts model_facts() const override {
    const DienConfig& c = config_;
    ModelFacts f;
    f.summary = fmt::format(
        "DIEN, {} users, {} items x {} categories, {}-dim embeddings, {} "
        "behaviours, GRU + AUGRU {} units, MLP {}-200-80-2 (Dice)",
        c.users, c.items, c.categories, c.dim, c.sequence, c.behaviour(), c.head().front());
    f.sample_unit = "samples";
    f.preset_batch = {16, 128, 128};
    f.optimizer = "Adam lr 0.001 (the authors' code)";
    return f;
  }

 protected:
  std::vector<std::pair<std::string, std::string>> facts() const override {
    return {{"inputs",
             fmt::format("a user, a candidate (item, category), up to {} behaviours (lengths "
                         "uniform in [2, {}], padded and masked) and as many sampled negative "
                         "behaviours (training)",
                         config_.sequence, config_.sequence)},
            {"loss",
             "two-way softmax cross-entropy on the click + the auxiliary loss (the "
             "interest at t tells the behaviour at t + 1 from a sampled one)"}};
  }

  void build() override {
    const DienConfig& c = config_;
    user_ = net().register_module("user_embedding", torch::nn::Embedding(c.users, c.dim));
    item_ = net().register_module("item_embedding", torch::nn::Embedding(c.items, c.dim));
    category_ =
        net().register_module("category_embedding", torch::nn::Embedding(c.categories, c.dim));
    extractor_ = net().register_module(
        "interest_extractor",
        torch::nn::GRU(torch::nn::GRUOptions(c.behaviour(), c.behaviour()).batch_first(true)));
    query_ = net().register_module("query", torch::nn::Linear(c.behaviour(), c.behaviour()));
    attention_ = net().register_module("attention", DiceMlp(c.attention()));
    evolution_ = net().register_module("interest_evolution", Augru(c.behaviour()));
    auxiliary_ = net().register_module("auxiliary", DiceMlp(c.auxiliary()));
    head_ = net().register_module("head", DiceMlp(c.head()));
  }

  Requests make_requests(int64_t count) override {
    const DienConfig& c = config_;
    torch::Tensor users = zipf_ids({count}, c.users, c.alpha, device());
    torch::Tensor items = zipf_ids({count, c.sequence}, c.items, c.alpha, device());
    torch::Tensor negatives = zipf_ids({count, c.sequence}, c.items, 0.0, device());
    torch::Tensor candidates = zipf_ids({count}, c.items, c.alpha, device());
    torch::Tensor mask = behaviour_mask(count, c.sequence, 2, device());
    torch::Tensor match =
        category_match(items.remainder(c.categories), candidates.remainder(c.categories), mask);
    Requests r;
    r.inputs = {users, items, negatives, mask, candidates};
    r.labels = clicks_from_scores(match + 0.3 * hidden_weights(users, 3) +
                                  0.3 * hidden_weights(candidates, 2));
    return r;
  }

  /// Item and category embeddings of item ids, concatenated.
  torch::Tensor behaviours(const torch::Tensor& items) {
    return torch::cat(
        {counted(item_, items), counted(category_, items.remainder(config_.categories))}, -1);
  }

  std::vector<torch::Tensor> embed(const Requests& r) override {
    std::vector<torch::Tensor> e = {counted(user_, r.inputs[0]), behaviours(r.inputs[1]),
                                    behaviours(r.inputs[4])};
    if (training_) e.push_back(behaviours(r.inputs[2]));
    return e;
  }

  torch::Tensor predict(const std::vector<torch::Tensor>& e, const Requests& r) override {
    const torch::Tensor& mask = r.inputs[3];
    const torch::Tensor& history = e[1];  // [n, T, b]
    const torch::Tensor& candidate = e[2];
    interests_ = counted(extractor_, history);  // [n, T, b]
    torch::Tensor query = counted(query_, candidate).unsqueeze(1).expand_as(interests_);
    torch::Tensor keys = interests_.to(query.scalar_type());
    torch::Tensor scores =
        attention_->forward(torch::cat({query, keys, query - keys, query * keys}, -1))
            .squeeze(-1)
            .to(torch::kFloat);
    scores = torch::softmax(scores.masked_fill(mask == 0, -1e9), 1);
    torch::Tensor final_state = evolution_->forward(interests_, scores.to(interests_.scalar_type()),
                                                    mask.to(interests_.scalar_type()));
    torch::Tensor history_sum = (history * mask.unsqueeze(-1)).sum(1);
    auto type = final_state.scalar_type();
    return head_->forward(torch::cat({e[0].to(type), candidate.to(type), history_sum.to(type),
                                      (candidate * history_sum).to(type), final_state},
                                     -1));
  }

  torch::Tensor training_loss() override {
    const Requests& r = batch_requests();
    std::vector<torch::Tensor> e = embed(r);
    torch::Tensor click = click_loss(predict(e, r), r.labels);
    // The auxiliary loss: h_t against the clicked behaviour e_{t+1} and a sampled one, on valid
    // steps only.
    const int64_t t = config_.sequence;
    torch::Tensor h = interests_.narrow(1, 0, t - 1);
    auto type = h.scalar_type();
    torch::Tensor clicked =
        auxiliary_->forward(torch::cat({h, e[1].narrow(1, 1, t - 1).to(type)}, -1));
    torch::Tensor sampled =
        auxiliary_->forward(torch::cat({h, e[3].narrow(1, 1, t - 1).to(type)}, -1));
    torch::Tensor valid = r.inputs[3].narrow(1, 1, t - 1);
    torch::Tensor log_clicked = torch::log_softmax(clicked.to(torch::kFloat), -1).select(-1, 1);
    torch::Tensor log_sampled = torch::log_softmax(sampled.to(torch::kFloat), -1).select(-1, 0);
    torch::Tensor auxiliary = -((log_clicked + log_sampled) * valid).sum() / valid.sum();
    return click + auxiliary;
  }

  std::unique_ptr<torch::optim::Optimizer> make_optimizer() override {
    return std::make_unique<torch::optim::Adam>(net().parameters(),
                                                torch::optim::AdamOptions(1e-3));
  }

 private:
  DienConfig config_;
  torch::nn::Embedding user_{nullptr}, item_{nullptr}, category_{nullptr};
  torch::nn::GRU extractor_{nullptr};
  torch::nn::Linear query_{nullptr};
  DiceMlp attention_{nullptr}, auxiliary_{nullptr}, head_{nullptr};
  Augru evolution_{nullptr};
  torch::Tensor interests_;  ///< the extractor's outputs of the last forward pass
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(DienModel);

}  // namespace dlbench::model
