// The shared machinery of model/... workloads: runtime FLOP counting, presets, mixed precision,
// the training step and the sanity check. See model.h and docs/workloads/models.md.
#include "workloads/model/model.h"

#include <ATen/autocast_mode.h>
#include <fmt/core.h>
#include <torch/version.h>

#include <algorithm>
#include <cstdlib>
#include <limits>

#include "core/comm_group.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/strings.h"
#include "nn/check.h"
#include "nn/data_parallel.h"

namespace dlbench::model {

// ---------------------------------------------------------------------------------------------
// Runtime FLOP counting.

namespace {
thread_local FlopTally* active_tally = nullptr;

double kernel_volume(const torch::Tensor& weight) {
  double volume = 1;
  for (int64_t d = 2; d < weight.dim(); ++d) volume *= static_cast<double>(weight.size(d));
  return volume;
}

double elements(const torch::Tensor& t) { return t.defined() ? static_cast<double>(t.numel()) : 0; }

/// The operand bytes of one GEMM-class operation at `size` bytes per element:
/// `activation_elements` of input and output, and its weights (an undefined bias is skipped).
void record_operands(double size, double activation_elements,
                     const std::vector<torch::Tensor>& weights, bool input_needs_grad,
                     bool weight_needs_grad) {
  double weight_elements = 0;
  std::vector<torch::Tensor> defined;
  for (const torch::Tensor& w : weights) {
    if (!w.defined()) continue;
    weight_elements += elements(w);
    defined.push_back(w);
  }
  record_bytes(size * activation_elements, size * weight_elements, defined, input_needs_grad,
               weight_needs_grad);
}

/// The operand bytes of one layer call: input x, output y and its weights, at y's element size.
void record_layer_bytes(const torch::Tensor& x, const torch::Tensor& y,
                        const std::vector<torch::Tensor>& weights) {
  if (!counter_active()) return;
  record_operands(static_cast<double>(y.element_size()), elements(x) + elements(y), weights,
                  needs_grad(x), needs_grad(weights.front()));
}

template <class Holder>
torch::Tensor counted_conv(Holder& m, const torch::Tensor& x) {
  torch::Tensor y = m->forward(x);
  // weight: [C_out, C_in / groups, k...]
  const torch::Tensor& w = m->weight;
  record_flops(
      2.0 * static_cast<double>(y.numel()) * static_cast<double>(w.size(1)) * kernel_volume(w),
      needs_grad(x), needs_grad(w));
  record_layer_bytes(x, y, {m->weight, m->bias});
  return y;
}

template <class Holder>
torch::Tensor counted_transposed(Holder& m, const torch::Tensor& x) {
  torch::Tensor y = m->forward(x);
  // weight: [C_in, C_out / groups, k...]; every input element scatters into C_out/g x kernel.
  const torch::Tensor& w = m->weight;
  record_flops(
      2.0 * static_cast<double>(x.numel()) * static_cast<double>(w.size(1)) * kernel_volume(w),
      needs_grad(x), needs_grad(w));
  record_layer_bytes(x, y, {m->weight, m->bias});
  return y;
}

/// A recurrent layer's parameter by its LibTorch name, or an undefined tensor.
template <class Holder>
torch::Tensor rnn_parameter(Holder& m, const std::string& name) {
  for (const auto& item : m->named_parameters(/*recurse=*/false)) {
    if (item.key() == name) return item.value();
  }
  return torch::Tensor();
}

/// What a recurrent layer's forward on `x` (whose output sequence is `y`) costs: its FLOPs and
/// operand bytes.
template <class Holder>
void record_recurrent_layer(Holder& m, const torch::Tensor& x, const torch::Tensor& y,
                            double gates) {
  const auto& o = m->options;
  const double steps = static_cast<double>(o.batch_first() ? x.size(1) : x.size(0));
  const double batch = static_cast<double>(o.batch_first() ? x.size(0) : x.size(1));
  const double hidden = static_cast<double>(o.hidden_size());
  const double directions = o.bidirectional() ? 2 : 1;
  const bool weights_grad = needs_grad(m->all_weights().front());
  const double size = static_cast<double>(y.element_size());
  for (int64_t layer = 0; layer < o.num_layers(); ++layer) {
    double in = layer == 0 ? static_cast<double>(o.input_size()) : directions * hidden;
    double per = 2.0 * steps * batch * directions * gates * hidden;
    bool input_grad = layer == 0 ? needs_grad(x) : weights_grad;
    // Input-to-hidden GEMM: its data gradient reaches the layer's input.
    record_flops(per * in, input_grad, weights_grad);
    // Hidden-to-hidden GEMM: the recurrence always carries a gradient when training.
    record_flops(per * hidden, weights_grad, weights_grad);
    if (!counter_active()) continue;
    // Per direction: x_t (in) and h_t (hidden) in, the gate pre-activations (gates x hidden)
    // out of each GEMM, over steps x batch positions.
    const double positions = steps * batch;
    for (int d = 0; d < static_cast<int>(directions); ++d) {
      std::string suffix = std::to_string(layer) + (d == 1 ? "_reverse" : "");
      record_operands(
          size, positions * (in + gates * hidden),
          {rnn_parameter(m, "weight_ih_l" + suffix), rnn_parameter(m, "bias_ih_l" + suffix)},
          input_grad, weights_grad);
      record_operands(
          size, positions * (hidden + gates * hidden),
          {rnn_parameter(m, "weight_hh_l" + suffix), rnn_parameter(m, "bias_hh_l" + suffix)},
          weights_grad, weights_grad);
    }
  }
}

template <class Holder>
torch::Tensor counted_recurrent(Holder& m, const torch::Tensor& x, double gates) {
  torch::Tensor y = std::get<0>(m->forward(x));
  record_recurrent_layer(m, x, y, gates);
  return y;
}
}  // namespace

void record_recurrent(torch::nn::LSTM& m, const torch::Tensor& x, const torch::Tensor& y) {
  record_recurrent_layer(m, x, y, 4);
}

FlopCounter::FlopCounter() {
  if (active_tally != nullptr) throw Error("FlopCounter: counters do not nest");
  active_tally = &tally_;
}

FlopCounter::~FlopCounter() { active_tally = nullptr; }

void record_flops(double forward_flops, bool input_needs_grad, bool weight_needs_grad) {
  if (active_tally == nullptr) return;
  active_tally->forward += forward_flops;
  if (torch::GradMode::is_enabled()) {
    active_tally->backward +=
        forward_flops * ((input_needs_grad ? 1 : 0) + (weight_needs_grad ? 1 : 0));
  }
}

void record_bytes(double activation_bytes, double weight_bytes,
                  const std::vector<torch::Tensor>& weights, bool input_needs_grad,
                  bool weight_needs_grad) {
  if (active_tally == nullptr) return;
  FlopTally& tally = *active_tally;
  const double bytes = activation_bytes + weight_bytes;
  tally.forward_bytes += bytes;
  tally.weight_bytes += weight_bytes;
  if (torch::GradMode::is_enabled()) {
    tally.backward_bytes += bytes * ((input_needs_grad ? 1 : 0) + (weight_needs_grad ? 1 : 0));
  }
  for (const torch::Tensor& w : weights) {
    const void* key = w.unsafeGetTensorImpl();
    if (std::find(tally.weights_seen.begin(), tally.weights_seen.end(), key) !=
        tally.weights_seen.end()) {
      continue;
    }
    tally.weights_seen.push_back(key);
    tally.weight_elements_seen += static_cast<double>(w.numel());
  }
}

bool counter_active() { return active_tally != nullptr; }

bool needs_grad(const torch::Tensor& t) {
  return torch::GradMode::is_enabled() && t.defined() && t.requires_grad();
}

torch::Tensor counted(torch::nn::Conv1d& m, const torch::Tensor& x) { return counted_conv(m, x); }
torch::Tensor counted(torch::nn::Conv2d& m, const torch::Tensor& x) { return counted_conv(m, x); }
torch::Tensor counted(torch::nn::Conv3d& m, const torch::Tensor& x) { return counted_conv(m, x); }
torch::Tensor counted(torch::nn::ConvTranspose2d& m, const torch::Tensor& x) {
  return counted_transposed(m, x);
}
torch::Tensor counted(torch::nn::ConvTranspose3d& m, const torch::Tensor& x) {
  return counted_transposed(m, x);
}

torch::Tensor counted(torch::nn::Linear& m, const torch::Tensor& x) {
  torch::Tensor y = m->forward(x);
  record_flops(2.0 * static_cast<double>(y.numel()) * static_cast<double>(m->weight.size(1)),
               needs_grad(x), needs_grad(m->weight));
  record_layer_bytes(x, y, {m->weight, m->bias});
  return y;
}

torch::Tensor counted(torch::nn::Embedding& m, const torch::Tensor& ids) {
  torch::Tensor output = m->forward(ids);
  record_lookup(m->weight, ids, output);
  return output;
}

void record_lookup(const torch::Tensor& table, const torch::Tensor& ids,
                   const torch::Tensor& output) {
  if (!counter_active()) return;
  const double rows = elements(ids) * static_cast<double>(table.size(1)) *
                      static_cast<double>(table.element_size());
  const double activation = elements(ids) * static_cast<double>(ids.element_size()) +
                            elements(output) * static_cast<double>(output.element_size());
  // The rows read are part of a weight, not all of it: the table is not marked as seen.
  record_bytes(activation, rows, {}, /*input_needs_grad=*/false, needs_grad(table));
}

torch::Tensor counted(torch::nn::LSTM& m, const torch::Tensor& x) {
  return counted_recurrent(m, x, 4);
}
torch::Tensor counted(torch::nn::GRU& m, const torch::Tensor& x) {
  return counted_recurrent(m, x, 3);
}

torch::Tensor counted_matmul(const torch::Tensor& a, const torch::Tensor& b) {
  torch::Tensor y = torch::matmul(a, b);
  record_flops(2.0 * static_cast<double>(y.numel()) * static_cast<double>(a.size(-1)),
               needs_grad(a), needs_grad(b));
  if (counter_active()) {
    // A parameter operand (a leaf that requires grad) is a weight; the rest are activations.
    const double size = static_cast<double>(y.element_size());
    double activation = elements(y), weight = 0;
    std::vector<torch::Tensor> weights;
    for (const torch::Tensor* t : {&a, &b}) {
      bool parameter = t->is_leaf() && t->requires_grad();
      (parameter ? weight : activation) += elements(*t);
      if (parameter) weights.push_back(*t);
    }
    record_bytes(size * activation, size * weight, weights, needs_grad(a), needs_grad(b));
  }
  return y;
}

// ---------------------------------------------------------------------------------------------
// Presets and parameters.

std::string size_name(Size size) {
  return size == Size::kTiny ? "tiny" : size == Size::kSmall ? "small" : "full";
}

Size parse_size(const Problem& problem) {
  const std::string& size = problem.get("size");
  return size == "tiny" ? Size::kTiny : size == "small" ? Size::kSmall : Size::kFull;
}

int64_t preset_param(const Problem& problem, const std::string& key, int64_t tiny, int64_t small,
                     int64_t full) {
  int64_t value = problem.get_int(key);
  return value != 0 ? value : by_size(parse_size(problem), tiny, small, full);
}

std::vector<ParamSpec> model_params(std::vector<ParamSpec> extra) {
  std::vector<ParamSpec> params = {
      ParamSpec::choice("mode", "train", {"train", "infer"},
                        "train: forward, loss, backward, optimizer step; infer: no-grad forward "
                        "in eval mode with post-processing"),
      ParamSpec::choice("size", "small", {"tiny", "small", "full"},
                        "preset: tiny (tests), small (CPU quick suite), full (the paper's "
                        "configuration)"),
      ParamSpec::integer("batch", 0, "samples per step (0: the preset's batch)", 0),
      ParamSpec::choice("dtype", "fp32", {"fp32", "bf16", "fp16"},
                        "compute type: bf16/fp16 = autocast mixed precision with fp32 weights "
                        "(fp16 with dynamic loss scaling; CUDA only)"),
      ParamSpec::boolean("channels_last", false,
                         "activations and conv weights in channels-last (NHWC / NDHWC) layout"),
  };
  for (ParamSpec& spec : extra) params.push_back(std::move(spec));
  return params;
}

WorkloadInfo model_info(const std::string& name, const std::string& description,
                        std::vector<ParamSpec> extra) {
  WorkloadInfo info;
  info.name = name;
  info.category = "model";
  info.description = description;
  info.modes = {"train", "infer"};
  info.params = model_params(std::move(extra));
  return info;
}

std::vector<ParamSpec> quality_params() {
  return {
      ParamSpec::real("target", 0,
                      "mode=quality: the quality that ends the run (0: the task's documented "
                      "target for this size)",
                      0),
      ParamSpec::integer("runs", 1,
                         "mode=quality: independent runs (seeds seed, seed+1, ...); with 3 or "
                         "more the fastest and slowest are dropped (MLPerf)",
                         1, 100),
      ParamSpec::real("max_epochs", 0, "mode=quality: epoch budget (0: the task's)", 0),
      ParamSpec::real("eval_every", 0, "mode=quality: evaluation cadence in epochs (0: the task's)",
                      0),
      ParamSpec::real("valid_n", 5, "mode=quality: the exponent n of Valid FLOPS", 0, 100),
      ParamSpec::real("budget_s", 0, "mode=quality: wall-clock budget per run (0: none)", 0),
      ParamSpec::integer("workers", 2,
                         "mode=quality or input=loader: data loader threads (0: synchronous)", 0,
                         256),
      ParamSpec::integer("prefetch", 2,
                         "mode=quality or input=loader: batches each loader thread prepares ahead",
                         1, 1024),
      ParamSpec::choice("input", "resident", {"resident", "loader"},
                        "modes train and infer: resident = one generated batch stays on the "
                        "device (the model's compute alone); loader = every step takes the next "
                        "batch of the quality task's training data from the loader's workers "
                        "(input stall, loader throughput and the input-bound verdict reported)"),
  };
}

WorkloadInfo quality_model_info(const std::string& name, const std::string& description,
                                std::vector<ParamSpec> extra) {
  for (ParamSpec& spec : quality_params()) extra.push_back(std::move(spec));
  WorkloadInfo info = model_info(name, description, std::move(extra));
  info.modes.push_back("quality");
  for (ParamSpec& spec : info.params) {
    if (spec.name != "mode") continue;
    spec.choices.push_back("quality");
    spec.help +=
        "; quality: train on real (or exactly labelled) data to a target "
        "(docs/quality.md)";
  }
  return info;
}

// ---------------------------------------------------------------------------------------------
// Mixed precision.

AutocastScope::AutocastScope(torch::DeviceType device_type, torch::ScalarType dtype)
    : device_type_(device_type), enabled_(dtype != torch::kFloat) {
  if (!enabled_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  previous_ = at::autocast::is_autocast_enabled(device_type_);
  previous_dtype_ = at::autocast::get_autocast_dtype(device_type_);
  at::autocast::set_autocast_dtype(device_type_, dtype);
  at::autocast::set_autocast_enabled(device_type_, true);
#else
  if (device_type_ == torch::kCUDA) {
    previous_ = at::autocast::is_enabled();
    previous_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(true);
  } else {
    previous_ = at::autocast::is_cpu_enabled();
    previous_dtype_ = at::autocast::get_autocast_cpu_dtype();
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(true);
  }
#endif
}

AutocastScope::~AutocastScope() {
  if (!enabled_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  at::autocast::set_autocast_enabled(device_type_, previous_);
  at::autocast::set_autocast_dtype(device_type_, previous_dtype_);
#else
  if (device_type_ == torch::kCUDA) {
    at::autocast::set_enabled(previous_);
    at::autocast::set_autocast_gpu_dtype(previous_dtype_);
  } else {
    at::autocast::set_cpu_enabled(previous_);
    at::autocast::set_autocast_cpu_dtype(previous_dtype_);
  }
#endif
  // Casted weights are cached per autocast region; drop them so the next step casts afresh
  // (as a training step must, its weights having changed).
  at::autocast::clear_cache();
}

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t total = 0;
  for (const torch::Tensor& p : module.parameters(/*recurse=*/true)) {
    if (p.requires_grad()) total += p.numel();
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// ModelWorkload.

bool ModelWorkload::runs_on_task_data(const Problem& problem) {
  return is_quality_run(problem) ||
         (problem.params.count("input") != 0 && problem.params.at("input") == "loader");
}

ModelWorkload::ModelWorkload(const Problem& problem)
    : Workload(problem),
      mode_(run_mode_of(problem).value_or(RunMode::kTrain)),
      training_(mode_ != RunMode::kInfer),
      quality_(mode_ == RunMode::kQuality),
      task_data_(runs_on_task_data(problem)),
      size_(parse_size(problem)),
      dtype_(dtype_named(problem.get("dtype"))),
      channels_last_(problem.get_bool("channels_last")),
      seed_(static_cast<uint64_t>(problem.get_int("seed"))) {}

ModelWorkload::~ModelWorkload() = default;

int64_t ModelWorkload::batch() const {
  return param_or("batch", model_facts().preset_batch.at(size_));
}

int64_t ModelWorkload::param_or(const std::string& key, int64_t preset) const {
  int64_t value = problem_.get_int(key);
  return value != 0 ? value : preset;
}

torch::ScalarType ModelWorkload::compute_dtype() const {
  if (dtype_ == DType::kBf16) return torch::kBFloat16;
  if (dtype_ == DType::kFp16) return torch::kHalf;
  return torch::kFloat;
}

torch::MemoryFormat ModelWorkload::memory_format(int spatial_dims) const {
  if (!channels_last_) return torch::MemoryFormat::Contiguous;
  return spatial_dims == 3 ? torch::MemoryFormat::ChannelsLast3d
                           : torch::MemoryFormat::ChannelsLast;
}

torch::Tensor ModelWorkload::to_format(const torch::Tensor& x) const {
  if (!channels_last_ || (x.dim() != 4 && x.dim() != 5)) return x;
  return x.contiguous(memory_format(static_cast<int>(x.dim()) - 2));
}

WorkCounts ModelWorkload::work() const {
  WorkCounts work;
  Flops flops = analytic_flops();
  double samples = static_cast<double>(batch());
  work.flops = samples * (training_ ? flops.train : flops.forward);
  work.samples = samples;
  work.sample_unit = model_facts().sample_unit;
  work.dtype = dtype_name(dtype_);
  work.primary = "throughput";
  work.partial_accounting = true;
  work.bytes_at_run_time = true;
  work.cache_served_bytes = true;  // the next layer reads what this one wrote
  if (first_step_tally_) work.bytes = first_step_tally_->total_bytes();
  return work;
}

void ModelWorkload::ensure_built() const {
  if (built_) return;
  auto* self = const_cast<ModelWorkload*>(this);
  torch::manual_seed(seed_);
  self->build();
  built_ = true;
}

int64_t ModelWorkload::parameter_count() const {
  ensure_built();
  return count_parameters(*net_);
}

Description ModelWorkload::describe() const {
  const ModelFacts about = model_facts();
  Description d;
  d.summary = about.summary;
  Flops flops = analytic_flops();
  int64_t params = parameter_count();
  d.facts.push_back({"mode", problem_.get("mode")});
  if (task_data_ && !quality_) {
    d.facts.push_back({"input",
                       "input=loader: the quality task's training data through the "
                       "loader's workers, one batch per step"});
  }
  if (auto spec = quality_spec()) {
    d.facts.push_back({"quality task", spec->task + " on " + spec->dataset});
    d.facts.push_back(
        {"quality target",
         fmt::format(
             "{} {} {:g}{} at size {} ({}); evaluated every {:g} epochs, budget {:g} epochs",
             spec->metric, spec->higher_is_better ? ">=" : "<=", spec->target, spec->unit,
             size_name(size_), spec->target_source, spec->eval_every_epochs, spec->max_epochs)});
  }
  d.facts.push_back({"preset", size_name(size_) + ", batch " + std::to_string(batch())});
  for (auto& fact : facts()) d.facts.push_back(fact);
  d.facts.push_back(
      {"parameters", fmt::format("{} ({:.2f} M)", params, static_cast<double>(params) / 1e6)});
  if (const auto& published = about.published_parameters) {
    d.facts.push_back(
        {"published parameters (full)",
         fmt::format("{:.2f} M, {}", published->parameters / 1e6, published->source)});
  }
  d.facts.push_back({"forward FLOPs / sample", fmt::format("{:.4g} GFLOP", flops.forward / 1e9)});
  d.facts.push_back({"training FLOPs / sample", fmt::format("{:.4g} GFLOP", flops.train / 1e9)});
  d.facts.push_back({"FLOP convention",
                     "2 per multiply-accumulate of conv, linear, matmul and recurrent GEMMs; "
                     "normalisation, activations, pooling, losses and post-processing not "
                     "counted (docs/workloads/models.md)"});
  d.facts.push_back({"optimizer", about.optimizer});
  d.facts.push_back({"precision", dtype_ == DType::kFp32
                                      ? "fp32"
                                      : dtype_name(dtype_) + " autocast, fp32 weights" +
                                            (dtype_ == DType::kFp16 ? ", loss scaling" : "")});
  return d;
}

/// The harness's QualityTask for a model in mode=quality: training steps are the model's own
/// train_step() (its loss, optimizer, autocast and loss scaling); scoring runs under no-grad,
/// eval mode and autocast.
class ModelWorkload::QualityAdapter : public QualityTask {
 public:
  explicit QualityAdapter(ModelWorkload& model) : model_(model) {
    // The data first: a generated set may state facts (an oracle quality) in the spec.
    std::tie(train_, eval_) = model.quality_data();
    spec_ = *model.quality_spec();
    spec_.batch_size = model.batch();
    if (spec_.eval_batch_size <= 0) spec_.eval_batch_size = model.batch();
    spec_.train_flops_per_sample = model.analytic_flops().train;
    spec_.optimizer = model.model_facts().optimizer;
  }
  QualitySpec spec() const override { return spec_; }
  std::shared_ptr<const data::BatchSource> train_data() const override { return train_; }
  std::shared_ptr<const data::BatchSource> eval_data() const override { return eval_; }
  void train_on(const data::Batch& batch) override {
    model_.use_batch(batch);
    model_.last_loss_ = model_.train_step();
  }
  void begin_evaluation() override {
    model_.net_->eval();
    model_.begin_scoring();
  }
  void evaluate_on(const data::Batch& batch) override {
    torch::NoGradGuard no_grad;
    AutocastScope autocast(model_.device_.type(), model_.compute_dtype());
    model_.score_batch(batch);
  }
  double end_evaluation() override {
    model_.net_->train();
    return model_.scored_quality();
  }
  double last_loss() const override { return model_.last_loss(); }

 private:
  ModelWorkload& model_;
  QualitySpec spec_;
  std::shared_ptr<const data::BatchSource> train_, eval_;
};

void ModelWorkload::setup(ExecContext& context) {
  device_ = context.device.torch_device();
  if (dtype_ == DType::kFp16 && !device_.is_cuda()) {
    throw Unsupported("dtype=fp16 runs under CUDA autocast only; use dtype=bf16 on the CPU");
  }
  ensure_built();
  net_->to(device_);
  if (channels_last_) {
    torch::NoGradGuard no_grad;
    for (torch::Tensor& p : net_->parameters()) {
      if (p.dim() == 4 || p.dim() == 5) {
        p.set_data(p.contiguous(memory_format(static_cast<int>(p.dim()) - 2)));
      }
    }
  }
  // Data-parallel training (docs/distributed.md): every rank starts from rank 0's parameters
  // and averages its gradients with the others'; each rank trains on its own samples.
  CommGroup* group = context.group && context.group->world_size() > 1 ? context.group : nullptr;
  uint64_t rank_seed = group ? 7919 * static_cast<uint64_t>(group->rank()) : 0;
  if (group && training_) {
    CommBackend& backend = group->backend_for(device_);
    std::vector<torch::Tensor> state = net_->parameters();
    for (const torch::Tensor& buffer : net_->buffers()) state.push_back(buffer);
    nn::broadcast_parameters(state, backend);
    std::vector<torch::Tensor> trainable;
    for (const torch::Tensor& p : net_->parameters()) {
      if (p.requires_grad()) trainable.push_back(p);
    }
    reducer_ = std::make_unique<nn::GradientReducer>(trainable, backend, group->world_size());
    reducer_->record_into(context.timeline, comm_backend_name(device_));
  }
  torch::manual_seed(seed_ + 1 + rank_seed);
  if (quality_) {
    if (!quality_spec()) {
      throw Unsupported(problem_.workload + " has no quality task (modes: train, infer)");
    }
    quality_task_ = std::make_unique<QualityAdapter>(*this);
  } else if (task_data_) {
    // The quality task's training split, read and decoded by loader workers at every step.
    data::LoaderOptions options;
    options.batch_size = batch();
    options.workers = static_cast<int>(problem_.get_int("workers"));
    options.prefetch = static_cast<int>(problem_.get_int("prefetch"));
    options.seed = seed_ + rank_seed;
    options.timeline = context.timeline;
    train_loader_ = std::make_unique<data::Loader>(quality_data().first, options);
    if (train_loader_->batches_per_epoch() < 1) {
      throw Error(
          fmt::format("input=loader: the training data holds fewer samples than one batch "
                      "of {}",
                      batch()));
    }
    use_batch(next_loaded_batch());  // a first batch, so that any later call finds one
  } else {
    make_batch();
  }
  if (training_) {
    net_->train();
    optimizer_ = make_optimizer();
  } else {
    net_->eval();
  }
}

void ModelWorkload::backward(const torch::Tensor& loss) {
  if (!reducer_) {
    loss.backward();
    return;
  }
  reducer_->prepare();
  loss.backward();
  reducer_->finish();
}

bool ModelWorkload::scaled_backward(const torch::Tensor& loss) {
  if (dtype_ != DType::kFp16) {
    backward(loss);
    return true;
  }
  backward(loss * loss_scale_);
  std::vector<torch::Tensor> finite;
  for (torch::Tensor& p : net_->parameters()) {
    if (!p.grad().defined()) continue;
    p.mutable_grad().mul_(1.0 / loss_scale_);
    finite.push_back(torch::isfinite(p.grad()).all());
  }
  bool ok = finite.empty() || torch::stack(finite).all().item<bool>();
  if (!ok) {
    loss_scale_ /= 2;
    good_steps_ = 0;
    return false;
  }
  if (++good_steps_ >= 2000) {
    loss_scale_ *= 2;
    good_steps_ = 0;
  }
  return true;
}

torch::Tensor ModelWorkload::train_step() {
  optimizer_->zero_grad();
  torch::Tensor loss;
  {
    AutocastScope autocast(device_.type(), compute_dtype());
    loss = training_loss();
  }
  if (scaled_backward(loss.to(torch::kFloat))) optimizer_->step();
  return loss.detach();
}

data::Batch ModelWorkload::next_loaded_batch() {
  std::optional<data::Batch> batch = train_loader_->next();
  if (!batch) {
    train_loader_->start_epoch(++loader_epoch_);
    batch = train_loader_->next();
  }
  if (!batch) throw Error("input=loader: the loader delivered no batch");
  return std::move(*batch);
}

void ModelWorkload::step() {
  // The first step counts the layers' operand bytes for work() (the FLOPs are analytic); the
  // hooks cost a few multiplications per layer.
  if (!first_step_tally_ && !counter_active()) {
    FlopCounter counter;
    run_step();
    first_step_tally_ = counter.tally();
    return;
  }
  run_step();
}

void ModelWorkload::run_step() {
  if (train_loader_) use_batch(next_loaded_batch());
  if (training_) {
    last_loss_ = train_step();
  } else {
    torch::NoGradGuard no_grad;
    AutocastScope autocast(device_.type(), compute_dtype());
    last_output_ = inference();
  }
}

double ModelWorkload::last_loss() const {
  if (!last_loss_.defined()) return std::numeric_limits<double>::quiet_NaN();
  return last_loss_.to(torch::kCPU).to(torch::kDouble).item<double>();
}

FlopTally ModelWorkload::count_step_flops() {
  FlopCounter counter;
  run_step();
  if (!first_step_tally_) first_step_tally_ = counter.tally();
  return counter.tally();
}

CheckOutcome ModelWorkload::check() {
  step();
  torch::Tensor scanned = training_ ? last_loss_ : last_output_;
  if (!scanned.defined()) {
    return CheckOutcome::compare(1, 0, "non-finite values in one extra step's output",
                                 "the step produced no output");
  }
  torch::Tensor values = scanned.detach().to(torch::kCPU).to(torch::kDouble).flatten();
  if (test_switch_active() && values.numel() > 0 && std::getenv("DLBENCH_TEST_CORRUPT_OUTPUT")) {
    values[0] = std::numeric_limits<double>::quiet_NaN();
  }
  double bad = static_cast<double>((~torch::isfinite(values)).sum().item<int64_t>());
  std::string what = training_ ? "the training loss" : "the inference outputs";
  CheckOutcome outcome = CheckOutcome::compare(
      bad, effective_tolerance(0.5), "non-finite values in " + what + " of one extra step",
      fmt::format(
          "{} values scanned{}", values.numel(),
          training_ ? fmt::format(", loss {:.6g}", values.numel() ? values[0].item<double>() : 0.0)
                    : ""));
  if (test_switch_active()) outcome.detail += " (made with a DLBENCH_TEST_ switch)";
  return outcome;
}

Probe ModelWorkload::make_probe(std::string name, std::string description,
                                std::function<void()> body, double samples, std::string sample_unit,
                                bool share_of_step) const {
  Probe probe;
  probe.name = std::move(name);
  probe.description = std::move(description);
  probe.samples = samples;
  probe.sample_unit = std::move(sample_unit);
  probe.share_of_step = share_of_step;
  const bool training = training_;
  const torch::DeviceType device_type = device_.type();
  const torch::ScalarType dtype = compute_dtype();
  probe.run = [training, device_type, dtype, body = std::move(body)] {
    std::optional<torch::NoGradGuard> no_grad;
    if (!training) no_grad.emplace();
    AutocastScope autocast(device_type, dtype);
    body();
  };
  return probe;
}

// ---------------------------------------------------------------------------------------------
// Quality runs: the harness's QualityTask, made of the model's own training step and scoring.

std::pair<std::shared_ptr<const data::BatchSource>, std::shared_ptr<const data::BatchSource>>
ModelWorkload::quality_data() {
  throw Unsupported(problem_.workload + " has no quality data");
}

void ModelWorkload::use_batch(const data::Batch&) {
  throw Unsupported(problem_.workload + " cannot train on loaded batches");
}

void ModelWorkload::score_batch(const data::Batch&) {
  throw Unsupported(problem_.workload + " cannot score held-out batches");
}

void ModelWorkload::teardown() {
  reducer_.reset();
  quality_task_.reset();
  train_loader_.reset();
  optimizer_.reset();
  last_loss_ = torch::Tensor();
  last_output_ = torch::Tensor();
  // Keeps first_step_tally_: work() still gives the counted bytes after teardown.
}

}  // namespace dlbench::model
