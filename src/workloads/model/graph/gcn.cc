// model/gcn: graph convolutional network node classification (AI Matrix GCN). Kipf & Welling,
// "Semi-Supervised Classification with Graph Convolutional Networks", ICLR 2017: two graph
// convolutions Â relu(Â X W1) W2 with the renormalised adjacency Â = D^-1/2 (A + I) D^-1/2,
// hidden 16, dropout 0.5, log-softmax, cross-entropy over the labelled nodes only, Adam lr 0.01
// with weight decay 5e-4 (the authors' PyTorch reference, tkipf/pygcn, with biases). Â is a
// coalesced sparse COO tensor; the graph is a generated stochastic block model of Cora's shape.
// FLOPs: GcnModel::analytic_flops; see docs/workloads/gcn.md.
#include "workloads/model/graph/gcn.h"

#include <c10/core/impl/LocalDispatchKeySet.h>
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "workloads/model/model.h"

namespace dlbench::model {

torch::Tensor normalized_adjacency(const torch::Tensor& edges, int64_t nodes) {
  auto long_options = torch::dtype(torch::kLong).device(edges.device());
  torch::Tensor self = torch::arange(nodes, long_options);
  torch::Tensor rows = torch::cat({edges[0], edges[1], self});
  torch::Tensor cols = torch::cat({edges[1], edges[0], self});
  torch::Tensor indices = torch::stack({rows, cols});
  torch::Tensor a_plus_i =
      torch::sparse_coo_tensor(indices, torch::ones({rows.size(0)}, torch::device(edges.device())),
                               {nodes, nodes})
          .coalesce();
  torch::Tensor index = a_plus_i.indices();
  torch::Tensor degree = torch::zeros({nodes}, torch::device(edges.device()))
                             .index_add_(0, index[0], a_plus_i.values());
  torch::Tensor inverse_sqrt = degree.rsqrt();
  torch::Tensor values =
      inverse_sqrt.index_select(0, index[0]) * inverse_sqrt.index_select(0, index[1]);
  return torch::sparse_coo_tensor(index, values, {nodes, nodes}).coalesce();
}

torch::Tensor sparse_product(const torch::Tensor& adjacency, const torch::Tensor& dense) {
  record_flops(2.0 * static_cast<double>(adjacency._nnz()) * static_cast<double>(dense.size(1)),
               needs_grad(dense), /*weight_needs_grad=*/false);
  // Sparse kernels run in fp32: autocast would cast Â to bf16, which CPU sparse mm lacks.
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  torch::Tensor product = torch::mm(adjacency, dense.to(torch::kFloat));
  // Operands: Â's values and its two int64 indices per non-zero, the dense input and output.
  const double nnz = static_cast<double>(adjacency._nnz());
  record_bytes(nnz * (4 + 2 * 8) + 4.0 * static_cast<double>(dense.numel() + product.numel()), 0,
               {}, needs_grad(dense), /*weight_needs_grad=*/false);
  return product;
}

namespace {

/// The problem's shape (Cora's in the full preset).
struct GcnConfig {
  int64_t nodes = 2708;
  int64_t features = 1433;
  int64_t hidden = 16;
  int64_t classes = 7;
  int64_t edges = 5429;  ///< undirected, each counted once
  double dropout = 0.5;
  int64_t labelled_per_class = 20;  ///< Cora's split: 20 training labels per class

  /// Non-zeros of Â: both directions of every edge plus the self loops.
  int64_t nnz() const { return 2 * edges + nodes; }
  int64_t labelled() const { return std::min(nodes, labelled_per_class * classes); }
};

/// One graph convolution: Â (X W) + b (tkipf/pygcn's GraphConvolution: weight [in, out], bias,
/// both uniform in +-1/sqrt(out)).
class GraphConvolutionImpl : public torch::nn::Module {
 public:
  GraphConvolutionImpl(int64_t in, int64_t out) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(out));
    weight = register_parameter("weight", torch::empty({in, out}).uniform_(-bound, bound));
    bias = register_parameter("bias", torch::empty({out}).uniform_(-bound, bound));
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& adjacency) {
    return sparse_product(adjacency, counted_matmul(x, weight)) + bias;
  }
  torch::Tensor weight, bias;
};
TORCH_MODULE(GraphConvolution);

/// The two-layer GCN: log_softmax(Â dropout(relu(Â X W1 + b1)) W2 + b2).
class GcnNetImpl : public torch::nn::Module {
 public:
  explicit GcnNetImpl(const GcnConfig& config) {
    gc1 = register_module("gc1", GraphConvolution(config.features, config.hidden));
    gc2 = register_module("gc2", GraphConvolution(config.hidden, config.classes));
    dropout = register_module("dropout", torch::nn::Dropout(config.dropout));
  }
  /// Log-probabilities [N, classes] of every node.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& adjacency) {
    torch::Tensor h = dropout(torch::relu(gc1(x, adjacency)));
    return torch::log_softmax(gc2(h, adjacency).to(torch::kFloat), 1);
  }
  GraphConvolution gc1{nullptr}, gc2{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(GcnNet);

class GcnModel : public ModelWorkload {
 public:
  static WorkloadInfo info() {
    return model_info(
        "model/gcn",
        "Graph convolutional network (Kipf & Welling 2017; AI Matrix GCN): 2-layer "
        "semi-supervised node classification with a sparse normalised adjacency, Adam",
        {ParamSpec::integer("nodes", 0, "graph nodes (0: preset: 300 / 19717 / 2708)", 0),
         ParamSpec::integer("features", 0, "input features per node (0: preset: 64 / 500 / 1433)",
                            0),
         ParamSpec::integer("hidden", 0, "hidden units (0: 16)", 0),
         ParamSpec::integer("classes", 0, "classes = communities (0: preset: 4 / 3 / 7)", 0),
         ParamSpec::integer("edges", 0,
                            "undirected edges (0: nodes x avg_degree / 2 when avg_degree is set, "
                            "else the preset: 600 / 44338 / 5429)",
                            0),
         ParamSpec::integer("avg_degree", 0, "average node degree, sets edges (0: unset)", 0)});
  }

  explicit GcnModel(const Problem& problem) : ModelWorkload(problem) {
    config_.nodes = param_or("nodes", by_size<int64_t>(size_, 300, 19717, 2708));
    config_.features = param_or("features", by_size<int64_t>(size_, 64, 500, 1433));
    config_.hidden = param_or("hidden", 16);
    config_.classes = param_or("classes", by_size<int64_t>(size_, 4, 3, 7));
    const int64_t degree = problem.get_int("avg_degree");
    config_.edges = param_or("edges", degree != 0 ? config_.nodes * degree / 2
                                                  : by_size<int64_t>(size_, 600, 44338, 5429));
    if (batch() != 1) throw Error("model/gcn: a step processes one graph (batch=1)");
    if (config_.classes < 2 || config_.classes > config_.nodes) {
      throw Error("model/gcn: classes must be between 2 and nodes");
    }
    const double pairs =
        static_cast<double>(config_.nodes) * static_cast<double>(config_.nodes - 1) / 2;
    if (static_cast<double>(config_.edges) > 0.25 * pairs) {
      throw Error("model/gcn: at most a quarter of all node pairs can be edges");
    }
  }

  Flops analytic_flops() const override {
    const GcnConfig& c = config_;
    const double n = static_cast<double>(c.nodes), nnz = static_cast<double>(c.nnz());
    const double f = static_cast<double>(c.features), h = static_cast<double>(c.hidden);
    const double k = static_cast<double>(c.classes);
    const double dense1 = 2 * n * f * h, sparse1 = 2 * nnz * h;
    const double dense2 = 2 * n * h * k, sparse2 = 2 * nnz * k;
    // Training: X W1 gets a weight gradient only (X is data); each sparse product a data
    // gradient only (Â is constant); H W2 both.
    return {dense1 + sparse1 + dense2 + sparse2,
            2 * dense1 + 2 * sparse1 + 3 * dense2 + 2 * sparse2};
  }

  ModelFacts model_facts() const override {
    const GcnConfig& c = config_;
    ModelFacts f;
    f.summary = fmt::format(
        "2-layer GCN {}-{}-{} on a {}-node, {}-edge generated graph "
        "(sparse Â, {} non-zeros)",
        c.features, c.hidden, c.classes, c.nodes, c.edges, c.nnz());
    f.sample_unit = "nodes";
    f.preset_batch = {1, 1, 1};  // a step processes the one graph
    f.optimizer = "Adam, lr 0.01, weight decay 5e-4 (L2 on all parameters, as tkipf/pygcn)";
    if (c.features == 1433 && c.hidden == 16 && c.classes == 7) {
      f.published_parameters =
          PublishedCount{23063, 0.0,
                         "tkipf/pygcn (the authors' PyTorch GCN, biased layers) on Cora: "
                         "1433 x 16 + 16 + 16 x 7 + 7; the paper states no count (the "
                         "TensorFlow tkipf/gcn has no biases: 23,040)"};
    }
    return f;
  }

  WorkCounts work() const override {
    WorkCounts work = ModelWorkload::work();
    work.samples = static_cast<double>(config_.nodes);  // every node is processed per step
    return work;
  }

 protected:
  std::vector<std::pair<std::string, std::string>> facts() const override {
    const GcnConfig& c = config_;
    return {{"input",
             fmt::format("one graph: {} nodes x {} sparse binary features (row-normalised, held "
                         "dense), {} undirected edges, {} classes",
                         c.nodes, c.features, c.edges, c.classes)},
            {"graph",
             "stochastic block model: communities = classes, 80% of edges inside a community; "
             "features drawn mostly from a per-class topic set"},
            {"adjacency",
             fmt::format("Â = D^-1/2 (A + I) D^-1/2, sparse COO coalesced, {} non-zeros", c.nnz())},
            {"layers", fmt::format("Â X W1 + b1 ({} -> {}), ReLU, dropout {:.1f}, Â H W2 + b2 ({} "
                                   "-> {}), log-softmax",
                                   c.features, c.hidden, c.dropout, c.hidden, c.classes)},
            {"loss", fmt::format("negative log-likelihood over {} labelled nodes ({} per class)",
                                 c.labelled(), c.labelled_per_class)},
            {"throughput", "nodes/s: every node is processed in each step (full-batch)"},
            {"sparse FLOPs", "2 x nnz x columns per sparse product, its data gradient once more"}};
  }

  void build() override { gcn_ = net().register_module("gcn", GcnNet(config_)); }

  void make_batch() override {
    const GcnConfig& c = config_;
    const int64_t n = c.nodes, classes = c.classes;
    // Node i belongs to community i mod classes; the first `labelled` nodes hold 20 labels of
    // each class (Cora's split).
    torch::Tensor labels = torch::arange(n, torch::kLong).remainder(classes);
    adjacency_ = normalized_adjacency(generate_edges(labels), n).to(device());
    // Sparse binary bag-of-words features: max(4, F/80) words per node (Cora: 18 of 1433),
    // 70% from its class's topic words.
    const int64_t words = std::max<int64_t>(4, c.features / 80);
    const int64_t topic = std::max<int64_t>(2, c.features / (2 * classes));
    torch::Tensor vocabulary = torch::randperm(c.features, torch::kLong);
    torch::Tensor node = torch::arange(n, torch::kLong).repeat_interleave(words);
    torch::Tensor node_class = labels.index_select(0, node);
    torch::Tensor topical = vocabulary.index_select(
        0, (node_class * topic + torch::randint(topic, {node.size(0)}, torch::kLong))
               .remainder(c.features));
    torch::Tensor any = torch::randint(c.features, {node.size(0)}, torch::kLong);
    torch::Tensor word = torch::where(torch::rand({node.size(0)}) < 0.7, topical, any);
    torch::Tensor x = torch::zeros({n, c.features});
    x.index_put_({node, word}, torch::ones({node.size(0)}));
    features_ = (x / x.sum(1, /*keepdim=*/true).clamp_min(1)).to(device());
    labels_ = labels.to(device());
    labelled_ = torch::arange(c.labelled(), torch::kLong).to(device());
  }

  std::unique_ptr<torch::optim::Optimizer> make_optimizer() override {
    return std::make_unique<torch::optim::Adam>(net().parameters(),
                                                torch::optim::AdamOptions(0.01).weight_decay(5e-4));
  }

  torch::Tensor training_loss() override {
    torch::Tensor log_probabilities = gcn_->forward(features_, adjacency_);
    return torch::nll_loss(log_probabilities.index_select(0, labelled_),
                           labels_.index_select(0, labelled_));
  }

  torch::Tensor inference() override {
    torch::Tensor log_probabilities = gcn_->forward(features_, adjacency_);
    predictions_ = log_probabilities.argmax(1);
    return log_probabilities;
  }

 private:
  /// `edges` distinct undirected edges [2, E] without self loops: a stochastic block model where
  /// an edge stays inside its source's community with probability 0.8.
  torch::Tensor generate_edges(const torch::Tensor& labels) const {
    const int64_t n = config_.nodes, classes = config_.classes, wanted = config_.edges;
    torch::Tensor keys = torch::empty({0}, torch::kLong);  // lo * n + hi, sorted, distinct
    while (keys.size(0) < wanted) {
      const int64_t m = (wanted - keys.size(0)) * 5 / 4 + 16;
      torch::Tensor source = torch::randint(n, {m}, torch::kLong);
      torch::Tensor community = labels.index_select(0, source);
      // Members of community c are c, c + classes, ...: (n - c + classes - 1) / classes of them.
      torch::Tensor members = (n - community + classes - 1).div(classes, "floor");
      torch::Tensor inside =
          community +
          classes * torch::minimum((torch::rand({m}) * members).to(torch::kLong), members - 1);
      torch::Tensor target =
          torch::where(torch::rand({m}) < 0.8, inside, torch::randint(n, {m}, torch::kLong));
      torch::Tensor keep = source != target;
      torch::Tensor lo = torch::minimum(source, target).masked_select(keep);
      torch::Tensor hi = torch::maximum(source, target).masked_select(keep);
      keys = std::get<0>(at::_unique(torch::cat({keys, lo * n + hi}), /*sorted=*/true));
    }
    keys = keys.index_select(0, torch::randperm(keys.size(0), torch::kLong).narrow(0, 0, wanted));
    return torch::stack({keys.div(n, "floor"), keys.remainder(n)});
  }

  GcnConfig config_;
  GcnNet gcn_{nullptr};
  torch::Tensor adjacency_, features_, labels_, labelled_, predictions_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(GcnModel);

}  // namespace dlbench::model
