// model/dlrm: the Deep Learning Recommendation Model as MLPerf trains it (AI Matrix's
// recommendation, the largest consumer of data-center time). Naumov et al., "Deep Learning
// Recommendation Model for Personalization and Recommendation Systems", arXiv:1906.00091; the
// configuration of the MLPerf training reference (facebookresearch/dlrm, Criteo Terabyte with
// --max-ind-range=40000000): 13 dense features through a bottom MLP 512-256-128, 26 embedding
// tables of 128-dimensional rows (3 to 39,979,771 rows), pairwise dot interaction of the 27
// vectors, top MLP 1024-1024-512-256-1, binary cross-entropy, plain SGD with sparse embedding
// gradients. FLOPs: DlrmModel::analytic_flops; docs/workloads/dlrm.md.
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "core/error.h"
#include "core/registry.h"
#include "core/safe_file.h"
#include "core/strings.h"
#include "data/catalog.h"
#include "data/csv.h"
#include "workloads/model/recsys/recsys.h"

namespace dlbench::model {
namespace {

/// Rows of the 26 Criteo Terabyte tables in the MLPerf reference (ids capped at 40 M).
const std::vector<int64_t> kCriteoTerabyteRows = {
    39884406, 39043,    17289,    7420,     20263,  3,     7120, 1543, 63,
    38532951, 2953546,  403346,   10,       2208,   11938, 155,  4,    976,
    14,       39979771, 25641295, 39664984, 585935, 12972, 108,  36};

/// Widths "a-b-c" (the reference's --arch-mlp-* spelling) or the preset when "preset".
std::vector<int64_t> parse_widths(const std::string& text, const std::vector<int64_t>& preset,
                                  const char* what) {
  if (text == "preset") return preset;
  std::vector<int64_t> widths;
  for (const std::string& part : split(text, '-')) {
    int64_t value = 0;
    try {
      value = std::stoll(part);
    } catch (const std::exception&) {
      value = 0;
    }
    if (value <= 0) {
      throw Error(
          fmt::format("model/dlrm: {} '{}' must be positive widths joined by '-'", what, text));
    }
    widths.push_back(value);
  }
  return widths;
}

/// The network's shape.
struct DlrmConfig {
  std::vector<int64_t> table_rows;  ///< rows of each embedding table (after the max_rows cap)
  int64_t dim = 128;                ///< embedding dimension = bottom MLP output
  int64_t dense = 13;               ///< dense features
  std::vector<int64_t> bottom;      ///< bottom MLP widths, {dense, ..., dim}
  std::vector<int64_t> top;         ///< top MLP widths, {interaction, ..., 1}
  int64_t lookups = 1;              ///< ids per table per sample (summed: an embedding bag)
  double alpha = 1.05;              ///< Zipf exponent of the ids

  /// Vectors that interact: the bottom MLP output and one per table.
  int64_t vectors() const { return static_cast<int64_t>(table_rows.size()) + 1; }
  /// Distinct pairwise dot products (lower triangle without the diagonal).
  int64_t pairs() const { return vectors() * (vectors() - 1) / 2; }
  int64_t embedding_rows() const {
    return std::accumulate(table_rows.begin(), table_rows.end(), int64_t{0});
  }
};

class DlrmModel : public RecsysWorkload {
 public:
  static WorkloadInfo info() {
    return quality_model_info(
        "model/dlrm",
        "DLRM (MLPerf, Criteo Terabyte shape): bottom MLP, 26 embedding tables with Zipf-skewed "
        "ids, dot interaction, top MLP; SGD with sparse embedding gradients",
        {ParamSpec::text("tables", "criteo",
                         "embedding tables: 'criteo' (the 26 MLPerf Criteo Terabyte sizes), a "
                         "count N (N tables of max_rows rows) or rows joined by '-'"),
         ParamSpec::integer("max_rows", 0,
                            "cap on rows per table, as the reference's --max-ind-range (0: "
                            "preset: 1000 / 100000 / 40000000)"),
         ParamSpec::integer("dim", 0, "embedding dimension (0: preset: 16 / 64 / 128)"),
         ParamSpec::text("bottom_mlp", "preset",
                         "bottom MLP hidden and output widths joined by '-' (the last = dim)"),
         ParamSpec::text("top_mlp", "preset",
                         "top MLP widths joined by '-' after the interaction (the last = 1)"),
         ParamSpec::integer("lookups", 1, "ids per table per sample (pooled by sum)", 1, 1000),
         ParamSpec::real("alpha", 1.05, "Zipf exponent of the ids (0: uniform)", 0.0, 5.0)});
  }

  explicit DlrmModel(const Problem& problem) : RecsysWorkload(problem) {
    DlrmConfig& c = config_;
    c.dim = param_or("dim", by_size<int64_t>(size_, 16, 64, 128));
    const int64_t cap = param_or("max_rows", by_size<int64_t>(size_, 1000, 100000, 40000000));
    const std::string tables = problem.get("tables");
    if (tables == "criteo") {
      c.table_rows = kCriteoTerabyteRows;
    } else if (tables.find('-') == std::string::npos) {
      int64_t count = 0;
      try {
        count = std::stoll(tables);
      } catch (const std::exception&) {
      }
      if (count <= 0 || count > 10000) {
        throw Error("model/dlrm: tables must be 'criteo', a table count or rows joined by '-'");
      }
      c.table_rows.assign(static_cast<size_t>(count), cap);
    } else {
      c.table_rows = parse_widths(tables, {}, "tables");
    }
    for (int64_t& rows : c.table_rows) rows = std::min(rows, cap);
    std::vector<int64_t> bottom_hidden = parse_widths(
        problem.get("bottom_mlp"),
        by_size<std::vector<int64_t>>(size_, {32, c.dim}, {256, 128, c.dim}, {512, 256, c.dim}),
        "bottom_mlp");
    std::vector<int64_t> top_hidden = parse_widths(
        problem.get("top_mlp"),
        by_size<std::vector<int64_t>>(size_, {32, 1}, {256, 128, 1}, {1024, 1024, 512, 256, 1}),
        "top_mlp");
    if (bottom_hidden.back() != c.dim) {
      throw Error(fmt::format("model/dlrm: the bottom MLP must end at dim={} to interact", c.dim));
    }
    if (top_hidden.back() != 1) throw Error("model/dlrm: the top MLP must end with width 1");
    c.bottom = {c.dense};
    c.bottom.insert(c.bottom.end(), bottom_hidden.begin(), bottom_hidden.end());
    c.top = {c.dim + c.pairs()};
    c.top.insert(c.top.end(), top_hidden.begin(), top_hidden.end());
    c.lookups = problem.get_int("lookups");
    c.alpha = problem.get_double("alpha");
  }

  Flops analytic_flops() const override {
    const DlrmConfig& c = config_;
    const double interaction = 2.0 * static_cast<double>(c.vectors() * c.vectors() * c.dim);
    const double forward = mlp_flops(c.bottom) + interaction + mlp_flops(c.top);
    // The dense input needs no gradient; the interaction's batched product has two operands that
    // both need one.
    const double train =
        mlp_train_flops(c.bottom, false) + 3 * interaction + mlp_train_flops(c.top, true);
    return {forward, train};
  }

  /// Counted from the configuration: the full tables (24 G parameters, 96 GB in fp32) are never
  /// built on the host; setup creates them on the device.
  int64_t parameter_count() const override {
    return config_.embedding_rows() * config_.dim + mlp_parameters(config_.bottom) +
           mlp_parameters(config_.top);
  }

  ModelFacts model_facts() const override {
    const DlrmConfig& c = config_;
    ModelFacts f;
    f.summary = fmt::format(
        "DLRM, {} tables x {}-dim ({:.3g} M rows), bottom MLP {}, dot interaction "
        "of {} vectors, top MLP {}",
        c.table_rows.size(), c.dim, static_cast<double>(c.embedding_rows()) / 1e6,
        widths_text(c.bottom), c.vectors(), widths_text(c.top));
    f.sample_unit = "samples";
    f.preset_batch = {32, 256, 2048};
    f.optimizer =
        "SGD lr 0.5, sparse embedding gradients (the reference's optimizer; MLPerf's warm-up "
        "and polynomial decay are not modelled)";
    return f;
  }

 protected:
  std::vector<std::pair<std::string, std::string>> facts() const override {
    const DlrmConfig& c = config_;
    std::vector<std::string> rows;
    for (int64_t r : c.table_rows) rows.push_back(std::to_string(r));
    return {{"inputs", fmt::format("{} dense features (log(1 + count)), {} categorical features x "
                                   "{} ids, Zipf({:.2f}) ids scattered by a hash",
                                   c.dense, c.table_rows.size(), c.lookups, c.alpha)},
            {"tables", join(rows, "-") + " rows"},
            {"embedding bytes (fp32)",
             format_bytes(static_cast<double>(c.embedding_rows() * c.dim) * 4)},
            {"interaction", fmt::format("dot products of {} vectors: {} pairs, concatenated with "
                                        "the bottom output ({} wide)",
                                        c.vectors(), c.pairs(), c.top.front())},
            {"loss", "binary cross-entropy on the click logit"}};
  }

  void build() override {
    bottom_ = net().register_module("bottom_mlp", Mlp(config_.bottom, true));
    top_ = net().register_module("top_mlp", Mlp(config_.top, false));
    // The reference's initialisation: N(0, sqrt(2 / (in + out))) weights, N(0, sqrt(1 / out))
    // biases.
    torch::NoGradGuard no_grad;
    for (Mlp* mlp : {&bottom_, &top_}) {
      for (torch::nn::Linear& fc : (*mlp)->layers()) {
        const double in = static_cast<double>(fc->weight.size(1));
        const double out = static_cast<double>(fc->weight.size(0));
        fc->weight.normal_(0, std::sqrt(2 / (in + out)));
        fc->bias.normal_(0, std::sqrt(1 / out));
      }
    }
  }

  void make_batch() override {
    make_tables();
    RecsysWorkload::make_batch();
  }

  /// The tables go straight to the device, uniform(-1/sqrt(rows), 1/sqrt(rows)) as the
  /// reference initialises them.
  void make_tables() {
    if (tables_.empty()) {
      torch::NoGradGuard no_grad;
      for (size_t t = 0; t < config_.table_rows.size(); ++t) {
        const int64_t rows = config_.table_rows[t];
        const double bound = 1 / std::sqrt(static_cast<double>(rows));
        torch::Tensor weight =
            torch::empty({rows, config_.dim}, torch::device(device())).uniform_(-bound, bound);
        tables_.push_back(net().register_parameter("table" + std::to_string(t), weight));
      }
      auto pairs = torch::tril_indices(config_.vectors(), config_.vectors(), -1,
                                       torch::dtype(torch::kLong).device(device()));
      pair_rows_ = pairs[0];
      pair_cols_ = pairs[1];
    }
  }

  // --- Quality: click-through prediction on a generated Criteo-layout click log ---
  std::optional<QualitySpec> quality_spec() const override {
    QualitySpec spec;
    spec.task = "click-through prediction";
    spec.dataset = fmt::format(
        "generated click log in Criteo's TSV layout ({} train / {} test rows), labels drawn "
        "from a known latent model{}",
        log_rows(true), log_rows(false),
        std::isnan(oracle_auc_) ? "" : fmt::format("; oracle AUC {:.4f}", oracle_auc_));
    spec.metric = "auc";
    spec.unit = "";
    spec.higher_is_better = true;
    spec.target = size_ == Size::kFull ? 0.8025 : size_ == Size::kSmall ? 0.77 : 0.70;
    spec.target_source =
        size_ == Size::kFull
            ? "MLPerf Training's DLRM target AUC (on Criteo Terabyte; here on the generated log)"
            : "dlbench's CPU bar, below the log's oracle AUC (docs/workloads/dlrm.md)";
    spec.eval_every_epochs = 0.25;
    spec.max_epochs = size_ == Size::kFull ? 1 : 3;
    spec.eval_batch_size = 8192;
    return spec;
  }

  /// Rows of the generated click log's split.
  int64_t log_rows(bool train) const {
    int64_t rows = by_size<int64_t>(size_, 16384, 262144, 4194304);
    return train ? rows : rows / 8;
  }

  std::pair<std::shared_ptr<const data::BatchSource>, std::shared_ptr<const data::BatchSource>>
  quality_data() override {
    if (config_.lookups != 1) {
      throw Unsupported(
          "model/dlrm mode=quality reads Criteo's layout: one id per table "
          "(lookups=1)");
    }
    make_tables();
    auto train = read_log(click_log_file(true));
    auto test = read_log(click_log_file(false));
    return {train, test};
  }

  void use_batch(const data::Batch& batch) override { set_batch(requests_of(batch)); }
  void score_batch(const data::Batch& batch) override { score_requests(requests_of(batch)); }

  Requests make_requests(int64_t count) override {
    const DlrmConfig& c = config_;
    auto options = torch::device(device());
    Requests r;
    torch::Tensor dense =
        torch::log1p(torch::poisson(torch::exp(1.5 * torch::randn({count, c.dense}, options))));
    r.inputs.push_back(dense);
    r.inputs.push_back(torch::arange(0, count * c.lookups, c.lookups,
                                     torch::dtype(torch::kLong).device(device())));
    torch::Tensor scores = dense.matmul(hidden_weights(torch::arange(c.dense, options), 99)) / 4;
    for (size_t t = 0; t < c.table_rows.size(); ++t) {
      torch::Tensor ids = zipf_ids({count * c.lookups}, c.table_rows[t], c.alpha, device());
      scores =
          scores + hidden_weights(ids, static_cast<int64_t>(t)).view({count, c.lookups}).sum(1);
      r.inputs.push_back(ids);
    }
    r.labels = clicks_from_scores(scores);
    return r;
  }

  std::vector<torch::Tensor> embed(const Requests& r) override {
    std::vector<torch::Tensor> pooled;
    for (size_t t = 0; t < tables_.size(); ++t) {
      pooled.push_back(std::get<0>(torch::embedding_bag(tables_[t], r.inputs[2 + t], r.inputs[1],
                                                        /*scale_grad_by_freq=*/false,
                                                        /*mode=sum*/ 0, /*sparse=*/true)));
      record_lookup(tables_[t], r.inputs[2 + t], pooled.back());
    }
    return pooled;
  }

  torch::Tensor predict(const std::vector<torch::Tensor>& embedded, const Requests& r) override {
    torch::Tensor x = bottom_->forward(r.inputs[0]);
    std::vector<torch::Tensor> vectors = {x};
    for (const torch::Tensor& e : embedded) vectors.push_back(e.to(x.scalar_type()));
    torch::Tensor t = torch::stack(vectors, 1);  // [n, vectors, dim]
    torch::Tensor z = counted_matmul(t, t.transpose(1, 2));
    torch::Tensor pairs = z.index({torch::indexing::Slice(), pair_rows_, pair_cols_});
    return top_->forward(torch::cat({x, pairs.to(x.scalar_type())}, 1)).squeeze(1);
  }

  std::unique_ptr<torch::optim::Optimizer> make_optimizer() override {
    return std::make_unique<torch::optim::SGD>(net().parameters(), torch::optim::SGDOptions(0.5));
  }

 private:
  /// The click log of a split, written once in Criteo's TSV layout under the data directory
  /// (`generated/`), named by everything that shapes it, and read back by the TSV reader.
  std::string click_log_file(bool train) {
    const DlrmConfig& c = config_;
    std::string rows;
    for (int64_t r : c.table_rows) rows += std::to_string(r) + ",";
    uint64_t hash = 1469598103934665603ull;
    for (char ch : rows + fmt::format("{:.4f}/{}", c.alpha, log_rows(true))) {
      hash = (hash ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
    }
    std::string dir = data::data_directory() + "/generated";
    std::string path = fmt::format("{}/dlrm-clicks-{:016x}-{}.tsv", dir,
                                   static_cast<unsigned long long>(hash), train ? "train" : "test");
    // The oracle AUC of the test split is kept beside it, written first: the log is the
    // commit point. Two runs generating it at once take turns; the second finds it written.
    const std::string oracle_path = path + ".oracle";
    // Not opened here: opening a FIFO would block (the reader refuses one with a clear error).
    std::error_code missing;
    auto cached = [&] {
      if (!std::filesystem::exists(path, missing)) return false;
      if (!train) {
        oracle_auc_ = NAN;
        if (std::filesystem::is_regular_file(oracle_path, missing)) {
          std::ifstream oracle(oracle_path);
          if (!(oracle >> oracle_auc_)) oracle_auc_ = NAN;
        }
      }
      return true;
    };
    if (cached()) return path;
    data::make_directories(dir);
    std::unique_ptr<FileLock> lock = FileLock::acquire(path);
    if (cached()) return path;
    data::ClickLog log = generate_click_log(log_rows(train), train ? 1 : 2);
    if (!train) {
      write_file(oracle_path, fmt::format("{:.6f}\n", oracle_auc_),
                 WriteOptions{0644, true, "the generated click log's oracle AUC"});
    }
    data::write_click_log(path, log, '\t');  // atomically: no reader sees half a log
    return path;
  }

  /// `rows` samples of the latent click model: the same features as make_requests (Poisson
  /// counts around a log-normal, Zipf ids), and clicks drawn with probability
  /// sigmoid(2 z), z the standardised hidden score. Fixed data: the stream depends on the split,
  /// never on the run's seed.
  data::ClickLog generate_click_log(int64_t rows, uint64_t stream) {
    const DlrmConfig& c = config_;
    torch::manual_seed(0x5eed0000 + stream);
    data::ClickLog log;
    torch::Tensor counts = torch::poisson(torch::exp(1.5 * torch::randn({rows, c.dense})));
    log.dense = counts;
    torch::Tensor score =
        torch::log1p(counts).matmul(hidden_weights(torch::arange(c.dense), 99)) / 4;
    std::vector<torch::Tensor> columns;
    for (size_t t = 0; t < c.table_rows.size(); ++t) {
      torch::Tensor ids = zipf_ids({rows}, c.table_rows[t], c.alpha, torch::kCPU);
      score = score + hidden_weights(ids, static_cast<int64_t>(t));
      columns.push_back(ids);
    }
    log.sparse = torch::stack(columns, 1);
    torch::Tensor z = (score - score.mean()) / score.std();
    torch::Tensor p = torch::sigmoid(2 * z);
    log.labels = torch::bernoulli(p);
    if (stream == 2) {
      nn::RocAuc oracle;
      oracle.add(p, log.labels);
      oracle_auc_ = oracle.value();
    }
    return log;
  }

  /// Reads a split back (log(1 + x) dense features, as DLRM's preprocessing) into a source of
  /// {dense, ids [n, 26], labels}. Ids are taken modulo each table's rows, as the reference's
  /// preprocessing does with hashed categories.
  std::shared_ptr<const data::BatchSource> read_log(const std::string& path) {
    data::ClickLogFormat format;
    format.dense = static_cast<int>(config_.dense);
    format.sparse = static_cast<int>(config_.table_rows.size());
    format.delimiter = '\t';
    data::ClickLog log = data::read_click_log(path, format);
    torch::Tensor rows = torch::tensor(config_.table_rows, torch::kLong);
    torch::Tensor ids = torch::remainder(log.sparse, rows.unsqueeze(0));
    return std::make_shared<data::TensorSource>(
        std::vector<torch::Tensor>{log.dense, ids, log.labels},
        fmt::format("{} ({} rows)", path, log.size()));
  }

  /// A loaded batch as DLRM's requests on the device.
  Requests requests_of(const data::Batch& batch) {
    Requests r;
    const int64_t n = batch.size;
    r.inputs.push_back(batch.tensors.at(0).to(device()));
    r.inputs.push_back(torch::arange(n, torch::dtype(torch::kLong).device(device())));
    torch::Tensor ids = batch.tensors.at(1).to(device());
    for (size_t t = 0; t < config_.table_rows.size(); ++t) {
      r.inputs.push_back(ids.select(1, static_cast<int64_t>(t)).contiguous());
    }
    r.labels = batch.tensors.at(2).to(device());
    return r;
  }

  double oracle_auc_ = NAN;

  static std::string widths_text(const std::vector<int64_t>& widths) {
    std::vector<std::string> parts;
    for (int64_t w : widths) parts.push_back(std::to_string(w));
    return join(parts, "-");
  }

  DlrmConfig config_;
  Mlp bottom_{nullptr}, top_{nullptr};
  std::vector<torch::Tensor> tables_;
  torch::Tensor pair_rows_, pair_cols_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(DlrmModel);

}  // namespace dlbench::model
