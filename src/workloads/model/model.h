// Whole-model benchmarks (model/...): the shared contract every model follows. A model file
// describes its network (LibTorch C++ modules), its presets, its generated batch, its loss and
// its inference; this base owns modes, presets, mixed precision, the optimizer step and the
// runtime FLOP count that cross-checks each model's analytic formula. See docs/workloads/models.md.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/registry.h"
#include "core/run_mode.h"
#include "core/workload.h"
#include "data/loader.h"

namespace dlbench::nn {
class GradientReducer;
}  // namespace dlbench::nn

namespace dlbench::model {

// ---------------------------------------------------------------------------------------------
// Runtime FLOP and byte accounting: the "forward hooks" of the C++ API. Counted layers record
// their FLOPs and the bytes of their operands from the tensors they actually see; a test holds
// every model's analytic FLOP formula to this count, and the byte count to the weights the
// network holds.
// Convention (docs/workloads/models.md): 2 FLOPs per multiply-accumulate of convolutions
// (incl. transposed), linear layers, matrix products and recurrent GEMMs. Normalisation,
// activations, pooling, losses and post-processing (NMS, decoding) are not counted.
// Bytes: each counted GEMM-class operation reads its input and its weights (bias included) and
// writes its output once, at the element size of its output (the compute type under autocast);
// its data gradient reads the output gradient and the weights and writes the input gradient,
// its weight gradient reads the output gradient and the input and writes the weight gradient,
// so each gradient moves the forward's bytes again. The traffic of uncounted layers is not
// counted either, so the bytes, like the FLOPs, are a lower bound of the step's work. Embedding
// lookups count no FLOPs and their bytes: the rows they read, their ids and their output.

/// FLOPs and bytes collected while a FlopCounter is alive on this thread.
struct FlopTally {
  double forward = 0;         ///< FLOPs of counted layers as they ran
  double backward = 0;        ///< FLOPs autograd will spend on them: data and weight gradients
  double forward_bytes = 0;   ///< operand bytes of counted layers as they ran
  double backward_bytes = 0;  ///< operand bytes of their data and weight gradients
  double weight_bytes = 0;    ///< of forward_bytes: the weight operands (parameters)
  /// Distinct parameter tensors the counted layers used as weights, and their elements.
  std::vector<const void*> weights_seen;
  double weight_elements_seen = 0;
  double total() const { return forward + backward; }
  double total_bytes() const { return forward_bytes + backward_bytes; }
};

/// While alive, counted layers on this thread add to its tally. Not nestable.
class FlopCounter {
 public:
  FlopCounter();
  ~FlopCounter();
  FlopCounter(const FlopCounter&) = delete;
  FlopCounter& operator=(const FlopCounter&) = delete;
  /// What was recorded so far.
  const FlopTally& tally() const { return tally_; }

 private:
  FlopTally tally_;
};

/// Records a GEMM-like operation of `forward_flops`. Its backward costs `forward_flops` for the
/// data gradient when `input_needs_grad` and again for the weight gradient when
/// `weight_needs_grad` (both only while grad mode is on). No-op without a FlopCounter.
void record_flops(double forward_flops, bool input_needs_grad, bool weight_needs_grad);

/// Records the operand bytes of a GEMM-like operation: `activation_bytes` (input and output)
/// and `weight_bytes`, and marks each parameter in `weights` as seen. Gradients move the same
/// bytes again, as record_flops counts FLOPs. No-op without a FlopCounter.
void record_bytes(double activation_bytes, double weight_bytes,
                  const std::vector<torch::Tensor>& weights, bool input_needs_grad,
                  bool weight_needs_grad);

/// True while a FlopCounter is alive on this thread.
bool counter_active();

/// True when autograd will want a gradient for `t` (grad mode on and t requires grad).
bool needs_grad(const torch::Tensor& t);

/// Counted layers: run the module's forward and record its FLOPs and operand bytes from the
/// runtime shapes.
/// Convolution: 2 x output elements x (C_in / groups) x kernel volume. Transposed convolution:
/// 2 x input elements x (C_out / groups) x kernel volume. Linear: 2 x output elements x in.
torch::Tensor counted(torch::nn::Conv1d& m, const torch::Tensor& x);
torch::Tensor counted(torch::nn::Conv2d& m, const torch::Tensor& x);
torch::Tensor counted(torch::nn::Conv3d& m, const torch::Tensor& x);
torch::Tensor counted(torch::nn::ConvTranspose2d& m, const torch::Tensor& x);
torch::Tensor counted(torch::nn::ConvTranspose3d& m, const torch::Tensor& x);
torch::Tensor counted(torch::nn::Linear& m, const torch::Tensor& x);
/// Recurrent layers (input [T, B, I], or [B, T, I] with batch_first): the output sequence.
/// FLOPs per layer and direction: 2 x T x B x gates x H x (I_layer + H), gates = 4 (LSTM) or
/// 3 (GRU); the input-to-hidden part's data gradient only when its input needs one.
torch::Tensor counted(torch::nn::LSTM& m, const torch::Tensor& x);
torch::Tensor counted(torch::nn::GRU& m, const torch::Tensor& x);
/// An embedding lookup: no FLOPs; reads one table row per id and the ids, writes the output.
torch::Tensor counted(torch::nn::Embedding& m, const torch::Tensor& ids);
/// Records the bytes of a lookup of `ids` in `table` (one row per id) that produced `output`
/// (pooled by an embedding bag, or one row per id); its gradient writes as many rows again.
void record_lookup(const torch::Tensor& table, const torch::Tensor& ids,
                   const torch::Tensor& output);
/// Records what counted(LSTM) records for a forward of `m` on `x` whose output sequence is `y`,
/// for a caller that runs the layer itself (from a given state, one decoding step at a time).
void record_recurrent(torch::nn::LSTM& m, const torch::Tensor& x, const torch::Tensor& y);
/// A matrix product a @ b (any batch dims), counted as 2 x output elements x inner dimension;
/// an operand that is a parameter (a leaf that requires grad) counts as a weight.
torch::Tensor counted_matmul(const torch::Tensor& a, const torch::Tensor& b);

// ---------------------------------------------------------------------------------------------
// Presets and parameters.

/// The preset sizes: tiny (tests: a step well under a second on 2 CPU cores), small (the CPU
/// quick suite), full (the paper's configuration, for real hardware).
enum class Size { kTiny, kSmall, kFull };

/// "tiny" | "small" | "full".
std::string size_name(Size size);

/// The preset a problem's `size` parameter names.
Size parse_size(const Problem& problem);

/// A model's integer parameter `key` when non-zero, else its preset value for the problem's
/// size. For configuration computed before a ModelWorkload is constructed; inside one, use
/// ModelWorkload::param_or.
int64_t preset_param(const Problem& problem, const std::string& key, int64_t tiny, int64_t small,
                     int64_t full);

/// Picks the preset value for a size.
template <class T>
T by_size(Size size, T tiny, T small, T full) {
  return size == Size::kTiny ? tiny : size == Size::kSmall ? small : full;
}

/// A published parameter count a `full` preset is held to.
struct PublishedCount {
  double parameters = 0;    ///< the published figure
  double tolerance = 0.01;  ///< relative
  std::string source;       ///< paper, table, or reference implementation
};

/// A model's batch for each size preset.
struct PresetBatch {
  int64_t tiny = 0, small = 0, full = 0;
  /// The batch of `size`.
  int64_t at(Size size) const { return by_size(size, tiny, small, full); }
};

/// What a model is at a problem's configuration: the facts `describe`, the work counts and the
/// quality report state about it. Each model builds them in one place
/// (ModelWorkload::model_facts), from its class and its parameters (size, variant, task data).
struct ModelFacts {
  /// One line: the architecture at this configuration.
  std::string summary;
  /// What one sample is, plural ("images", "volumes", "jets").
  std::string sample_unit = "images";
  /// The batch of each size preset (the `batch` parameter overrides it).
  PresetBatch preset_batch;
  /// The optimizer the paper trains with, by name ("SGD momentum 0.9, weight decay 1e-4").
  std::string optimizer;
  /// The published parameter count of the `full` preset, when there is one.
  std::optional<PublishedCount> published_parameters;
};

/// The parameters every model takes (mode, size, batch, dtype, channels_last) followed by the
/// model's own `extra` ones. Integer extras whose default is 0 mean "the preset's value".
std::vector<ParamSpec> model_params(std::vector<ParamSpec> extra);

/// WorkloadInfo for model/NAME with the standard parameters and modes.
WorkloadInfo model_info(const std::string& name, const std::string& description,
                        std::vector<ParamSpec> extra = {});

/// The parameters of a quality run (mode=quality): target, runs, max_epochs, eval_every,
/// valid_n, budget_s, workers, prefetch (docs/quality.md).
std::vector<ParamSpec> quality_params();

/// WorkloadInfo for a model that has a quality task: modes train, infer and quality, the
/// standard parameters, the model's `extra` ones and quality_params().
WorkloadInfo quality_model_info(const std::string& name, const std::string& description,
                                std::vector<ParamSpec> extra = {});

// ---------------------------------------------------------------------------------------------

/// Base of every model/... workload. Modes: `train` (forward, loss, backward, optimizer step)
/// and `infer` (no-grad, eval mode, with the model's post-processing). dtype bf16/fp16 run under
/// autocast (mixed precision, fp32 master weights; fp16 with dynamic loss scaling, CUDA only).
class ModelWorkload : public Workload {
 public:
  explicit ModelWorkload(const Problem& problem);
  ~ModelWorkload() override;

  /// True when `problem` runs on its quality task's data (mode=quality, or input=loader in
  /// train / infer), so the model takes the geometry that data needs.
  static bool runs_on_task_data(const Problem& problem);

  int64_t batch_size() const override { return batch(); }

  /// Analytic FLOPs per sample (docs/workloads/models.md convention).
  struct Flops {
    double forward = 0;  ///< one inference forward pass
    double train = 0;    ///< one training step: forward + data and weight gradients
  };
  /// The model's analytic FLOP formula for this problem's configuration.
  virtual Flops analytic_flops() const = 0;
  /// What the model is at this problem's configuration (valid before setup): its summary,
  /// sample unit, preset batches, optimizer and published parameter count.
  virtual ModelFacts model_facts() const = 0;

  WorkCounts work() const override;
  Description describe() const override;
  void setup(ExecContext& context) override;
  void step() override;
  CheckOutcome check() override;
  void teardown() override;

  /// The quality task in mode=quality (after setup), else nullptr.
  QualityTask* quality_task() override { return quality_task_.get(); }

  /// True in train and quality modes.
  bool training() const { return training_; }
  /// True in mode=quality.
  bool quality_mode() const { return quality_; }
  Size size() const { return size_; }
  /// The batch this problem runs (the `batch` parameter, or the preset's).
  int64_t batch() const;
  /// Trainable parameters of the built network (builds it on the CPU if not set up). A model too
  /// large to build on the host (DLRM's terabyte-scale tables) counts them analytically instead.
  virtual int64_t parameter_count() const;
  /// Builds the network on the CPU once (setup moves it to the device).
  void ensure_built() const;
  /// The loss of the last training step (NaN before the first one or in infer mode).
  double last_loss() const;
  /// The root module every part is registered in (built by ensure_built or setup).
  const std::shared_ptr<torch::nn::Module>& net_ptr() const { return net_; }
  /// Runs one step under a FlopCounter (after setup) and returns what it counted.
  FlopTally count_step_flops();
  /// What the first step counted (step() counts it when no counter is active), if it ran.
  const std::optional<FlopTally>& first_step_tally() const { return first_step_tally_; }

 protected:
  // --- What a model describes beyond model_facts() (valid before setup) ---
  /// Extra facts for `describe` (input shape, widths, anchors...).
  virtual std::vector<std::pair<std::string, std::string>> facts() const { return {}; }

  // --- What a model sets up and runs ---
  /// Creates the network (on the CPU) and registers its parts in `net()`.
  virtual void build() = 0;
  /// Generates the batch on `device()`: inputs and targets the loss accepts.
  virtual void make_batch() = 0;
  /// The paper's optimizer over `net()`'s parameters.
  virtual std::unique_ptr<torch::optim::Optimizer> make_optimizer() = 0;
  /// Forward pass and loss on the batch (grad mode on, autocast active when dtype != fp32).
  virtual torch::Tensor training_loss() = 0;
  /// Inference on the batch, post-processing included (no grad, eval mode, autocast active).
  /// Returns a tensor whose values the check scans for NaN/Inf.
  virtual torch::Tensor inference() = 0;
  /// One training step. The default: zero grads, training_loss(), backward (loss-scaled for
  /// fp16), optimizer step. Returns the loss (a detached scalar tensor; not synchronised).
  virtual torch::Tensor train_step();
  /// Backward of `loss`. On several ranks (data-parallel training) the gradients are averaged
  /// across ranks, bucketed and overlapped with the backward pass (nn/data_parallel.h); a
  /// model that writes its own train_step calls this instead of loss.backward().
  void backward(const torch::Tensor& loss);

  // --- Quality (mode=quality): a model with a quality task overrides all of these ---
  /// The task, its metric and target at this size, cadence and budget; valid before setup.
  /// The base fills in the batch, the training FLOPs and the optimizer. nullopt: no task.
  virtual std::optional<QualitySpec> quality_spec() const { return std::nullopt; }
  /// The training and held-out splits, read from a fetched data set or generated (called once
  /// in setup, on the host).
  virtual std::pair<std::shared_ptr<const data::BatchSource>,
                    std::shared_ptr<const data::BatchSource>>
  quality_data();
  /// Installs a host training batch (from quality_data's first source) on device() as the
  /// batch training_loss() uses.
  virtual void use_batch(const data::Batch& batch);
  /// Starts a pass over the held-out split (resets the running metric).
  virtual void begin_scoring() {}
  /// Scores one held-out batch; the caller has set no-grad, eval mode and autocast.
  virtual void score_batch(const data::Batch& batch);
  /// The metric over every batch scored since begin_scoring().
  virtual double scored_quality() { return std::nan(""); }

  /// A probe (core/workload.h) whose call runs `body` the way this mode's step runs: under
  /// NoGradGuard and eval mode in infer, with autocast when dtype != fp32.
  Probe make_probe(std::string name, std::string description, std::function<void()> body,
                   double samples = 0, std::string sample_unit = "",
                   bool share_of_step = false) const;

  /// The root module every part is registered in.
  torch::nn::Module& net() { return *net_; }
  /// The device tensors go on (valid in setup and later).
  const torch::Device& device() const { return device_; }
  /// Memory format for activations of `spatial_dims` spatial dimensions (channels_last).
  torch::MemoryFormat memory_format(int spatial_dims = 2) const;
  /// `x` in this problem's memory format (4-D or 5-D tensors; others unchanged).
  torch::Tensor to_format(const torch::Tensor& x) const;
  /// A preset-or-override integer parameter: the parameter when non-zero, else `preset`.
  int64_t param_or(const std::string& key, int64_t preset) const;
  /// The autocast dtype (kFloat for fp32).
  torch::ScalarType compute_dtype() const;

  RunMode mode_ = RunMode::kTrain;
  bool training_ = true;  ///< mode train or quality
  bool quality_ = false;  ///< mode quality
  /// mode=quality or input=loader: the model runs on its quality task's data, so it takes the
  /// geometry that data needs (canvas size, classes) instead of the throughput preset's.
  bool task_data_ = false;
  Size size_ = Size::kSmall;
  DType dtype_ = DType::kFp32;
  bool channels_last_ = false;
  uint64_t seed_ = 0;

 private:
  /// Backward with dynamic loss scaling (fp16): unscale, skip the step on overflow.
  bool scaled_backward(const torch::Tensor& loss);
  /// input=loader: the loader's next batch, starting the next epoch at the end of one.
  data::Batch next_loaded_batch();
  /// One step: the next loaded batch, then a training step or an inference.
  void run_step();

  class QualityAdapter;
  friend class QualityAdapter;
  std::unique_ptr<nn::GradientReducer> reducer_;  // data-parallel training only
  std::unique_ptr<QualityTask> quality_task_;
  std::unique_ptr<data::Loader> train_loader_;  // input=loader
  int64_t loader_epoch_ = 0;

  std::shared_ptr<torch::nn::Module> net_ = std::make_shared<torch::nn::Module>("net");
  torch::Device device_{torch::kCPU};
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  torch::Tensor last_loss_;
  torch::Tensor last_output_;
  std::optional<FlopTally> first_step_tally_;  // the layers' operand bytes, for work()
  double loss_scale_ = 65536.0;
  int good_steps_ = 0;
  mutable bool built_ = false;
};

/// Enables autocast for `dtype` (kFloat: nothing) on the device type while alive.
class AutocastScope {
 public:
  AutocastScope(torch::DeviceType device_type, torch::ScalarType dtype);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  torch::DeviceType device_type_;
  bool enabled_ = false;
  bool previous_ = false;
  torch::ScalarType previous_dtype_ = torch::kFloat;
};

/// Sum of elements of every trainable parameter of a module.
int64_t count_parameters(const torch::nn::Module& module);

}  // namespace dlbench::model
