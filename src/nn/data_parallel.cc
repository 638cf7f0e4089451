// Data-parallel gradient averaging on c10d backends (see data_parallel.h).
#include "nn/data_parallel.h"

#include <algorithm>
#include <exception>
#include <map>
#include <string>
#include <tuple>
#include <utility>

#include "core/error.h"

namespace dlbench::nn {

using Clock = std::chrono::steady_clock;

namespace {

double seconds_between(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double>(end - start).count();
}

int64_t tensor_bytes(const torch::Tensor& tensor) {
  return tensor.numel() * static_cast<int64_t>(tensor.element_size());
}

std::string describe(const torch::Tensor& tensor) {
  std::string text = std::string(c10::toString(tensor.scalar_type())) + "[";
  for (size_t i = 0; i < tensor.sizes().size(); ++i) {
    text += (i ? ", " : "") + std::to_string(tensor.sizes()[i]);
  }
  return text + "] on " + tensor.device().str();
}

/// The length of the union of the intervals [start, end].
double union_seconds(std::vector<std::pair<Clock::time_point, Clock::time_point>> intervals) {
  std::sort(intervals.begin(), intervals.end());
  double total = 0;
  size_t i = 0;
  while (i < intervals.size()) {
    Clock::time_point start = intervals[i].first;
    Clock::time_point end = intervals[i].second;
    for (++i; i < intervals.size() && intervals[i].first <= end; ++i) {
      end = std::max(end, intervals[i].second);
    }
    total += seconds_between(start, end);
  }
  return total;
}

void add_stats(ReducerStats& total, const ReducerStats& step) {
  total.comm_seconds += step.comm_seconds;
  total.exposed_seconds += step.exposed_seconds;
  total.bytes += step.bytes;
  total.allreduces += step.allreduces;
  total.steps += step.steps;
}

}  // namespace

void broadcast_parameters(const std::vector<torch::Tensor>& tensors, CommBackend& backend,
                          int root) {
  if (root < 0 || root >= backend.getSize()) {
    throw Error("broadcast_parameters: root rank " + std::to_string(root) +
                " is outside the group of " + std::to_string(backend.getSize()) + " ranks");
  }
  // Group by (dtype, device) in order of first appearance, which is the same on every rank.
  std::vector<std::vector<size_t>> groups;
  std::vector<std::pair<c10::ScalarType, std::string>> keys;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!tensors[i].defined()) {
      throw Error("broadcast_parameters: tensor " + std::to_string(i) + " is undefined");
    }
    std::pair<c10::ScalarType, std::string> key{tensors[i].scalar_type(),
                                                tensors[i].device().str()};
    auto found = std::find(keys.begin(), keys.end(), key);
    if (found == keys.end()) {
      keys.push_back(key);
      groups.emplace_back();
      found = keys.end() - 1;
    }
    groups[found - keys.begin()].push_back(i);
  }
  torch::NoGradGuard no_grad;
  for (const std::vector<size_t>& group : groups) {
    std::vector<torch::Tensor> flat_parts;
    for (size_t index : group) flat_parts.push_back(tensors[index].detach().reshape({-1}));
    std::vector<torch::Tensor> buffer{torch::cat(flat_parts)};
    c10d::BroadcastOptions options;
    options.rootRank = root;
    try {
      backend.broadcast(buffer, options)->wait();
    } catch (const std::exception& e) {
      throw Error("broadcast_parameters: the broadcast from rank " + std::to_string(root) +
                  " failed (every rank must pass the same tensors): " + e.what());
    }
    if (backend.getRank() == root) continue;
    int64_t offset = 0;
    for (size_t index : group) {
      const torch::Tensor& tensor = tensors[index];
      tensor.copy_(buffer[0].narrow(0, offset, tensor.numel()).view(tensor.sizes()));
      offset += tensor.numel();
    }
  }
}

GradientReducer::CompletionLog::CompletionLog(size_t buckets)
    : launched(buckets), completed(buckets), done(buckets, 0) {}

GradientReducer::GradientReducer(std::vector<torch::Tensor> parameters, CommBackend& backend,
                                 int world_size, int64_t bucket_cap_bytes,
                                 int64_t first_bucket_cap_bytes)
    : backend_(backend), world_size_(world_size) {
  if (world_size < 1 || world_size != backend_.getSize()) {
    throw Error("GradientReducer: world size " + std::to_string(world_size) +
                " does not match the backend's group of " + std::to_string(backend_.getSize()) +
                " ranks");
  }
  if (bucket_cap_bytes <= 0 || first_bucket_cap_bytes <= 0) {
    throw Error("GradientReducer: the bucket caps must be positive, got " +
                std::to_string(bucket_cap_bytes) + " and " +
                std::to_string(first_bucket_cap_bytes) + " bytes");
  }
  if (parameters.empty()) {
    throw Error(
        "GradientReducer: no trainable parameters (a model without parameters that "
        "require a gradient needs no gradient reducer)");
  }
  for (size_t i = 0; i < parameters.size(); ++i) {
    const torch::Tensor& parameter = parameters[i];
    const std::string name = "GradientReducer: parameter " + std::to_string(i);
    if (!parameter.defined()) throw Error(name + " is undefined");
    if (!parameter.requires_grad() || !parameter.is_leaf()) {
      throw Error(name +
                  " is not a trainable leaf tensor (pass the parameters that require a "
                  "gradient, e.g. those of module->parameters())");
    }
    if (parameter.layout() != torch::kStrided) throw Error(name + " is not a dense tensor");
    for (size_t j = 0; j < i; ++j) {
      if (parameters[j].is_same(parameter)) {
        throw Error(name + " is the same tensor as parameter " + std::to_string(j) +
                    " (pass each parameter once)");
      }
    }
    ParameterSlot slot;
    slot.parameter = parameter;
    parameters_.push_back(std::move(slot));
  }
  assign_buckets(bucket_cap_bytes, std::min(first_bucket_cap_bytes, bucket_cap_bytes));
  for (size_t i = 0; i < parameters_.size(); ++i) {
    parameters_[i].hook = parameters_[i].parameter.register_hook(
        [this, i](const torch::Tensor& gradient) { on_gradient(i, gradient); });
  }
}

GradientReducer::~GradientReducer() {
  for (ParameterSlot& slot : parameters_) {
    try {
      slot.parameter.remove_hook(slot.hook);
    } catch (...) {
      // A destructor must not throw; the hook is gone either way.
    }
  }
}

void GradientReducer::assign_buckets(int64_t bucket_cap_bytes, int64_t first_bucket_cap_bytes) {
  // One open bucket per (dtype, device); buckets are numbered in the order they are opened. The
  // first bucket of a (dtype, device) has the smaller cap.
  std::map<std::pair<c10::ScalarType, std::string>, size_t> open;
  std::vector<int64_t> bytes;
  std::vector<bool> first_of_its_kind;
  for (size_t i = parameters_.size(); i-- > 0;) {
    const torch::Tensor& parameter = parameters_[i].parameter;
    const std::pair<c10::ScalarType, std::string> key{parameter.scalar_type(),
                                                      parameter.device().str()};
    const int64_t size = tensor_bytes(parameter);
    auto found = open.find(key);
    if (found == open.end() ||
        bytes[found->second] + size >
            (first_of_its_kind[found->second] ? first_bucket_cap_bytes : bucket_cap_bytes)) {
      first_of_its_kind.push_back(found == open.end());
      buckets_.emplace_back();
      bytes.push_back(0);
      found = open.insert_or_assign(key, buckets_.size() - 1).first;
    }
    buckets_[found->second].parameters.push_back(i);
    bytes[found->second] += size;
  }
  for (size_t b = 0; b < buckets_.size(); ++b) {
    Bucket& bucket = buckets_[b];
    const torch::Tensor& first = parameters_[bucket.parameters.front()].parameter;
    int64_t numel = 0;
    for (size_t index : bucket.parameters) numel += parameters_[index].parameter.numel();
    bucket.buffer = torch::zeros({numel}, first.options().requires_grad(false));
    int64_t offset = 0;
    for (size_t index : bucket.parameters) {
      ParameterSlot& slot = parameters_[index];
      slot.bucket = b;
      slot.slot = bucket.buffer.narrow(0, offset, slot.parameter.numel());
      offset += slot.parameter.numel();
    }
  }
}

void GradientReducer::prepare() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (step_open_ && next_bucket_ > 0) {
    throw Error(
        "GradientReducer::prepare(): the previous step launched allreduces that were "
        "never completed; call finish() after every backward pass");
  }
  for (ParameterSlot& slot : parameters_) {
    slot.arrived = false;
    slot.has_gradient = false;
  }
  for (Bucket& bucket : buckets_) {
    bucket.pending = static_cast<int64_t>(bucket.parameters.size());
    bucket.work.reset();
    bucket.has_future = false;
  }
  next_bucket_ = 0;
  log_ = std::make_shared<CompletionLog>(buckets_.size());
  step_open_ = true;
}

void GradientReducer::on_gradient(size_t index, const torch::Tensor& gradient) {
  std::lock_guard<std::mutex> lock(mutex_);
  ParameterSlot& slot = parameters_[index];
  const std::string name =
      "GradientReducer: parameter " + std::to_string(index) + " (" + describe(slot.parameter) + ")";
  if (!step_open_) {
    throw Error(name +
                " got a gradient outside a step; call prepare() before backward() and "
                "finish() after it");
  }
  if (slot.arrived) {
    throw Error(name +
                " got a second gradient in one step (backward ran twice between "
                "prepare() and finish()); call finish() and prepare() between backward "
                "passes, or sum the losses and run backward once");
  }
  if (gradient.defined()) {
    if (gradient.layout() != torch::kStrided) {
      throw Error(name +
                  " got a sparse gradient, which the reducer does not support (use a "
                  "dense embedding)");
    }
    if (gradient.scalar_type() != slot.parameter.scalar_type() ||
        gradient.sizes() != slot.parameter.sizes() ||
        gradient.device() != slot.parameter.device()) {
      throw Error(name + " got a gradient of the wrong type or shape: " + describe(gradient));
    }
    torch::NoGradGuard no_grad;
    slot.slot.view(slot.parameter.sizes()).copy_(gradient);
    slot.has_gradient = true;
  } else {
    torch::NoGradGuard no_grad;
    slot.slot.zero_();  // an undefined gradient is a zero one
  }
  slot.arrived = true;
  if (--buckets_[slot.bucket].pending == 0) launch_filled_buckets();
}

void GradientReducer::launch_filled_buckets() {
  while (next_bucket_ < buckets_.size() && buckets_[next_bucket_].pending == 0) {
    launch(next_bucket_);
    ++next_bucket_;
  }
}

void GradientReducer::launch(size_t index) {
  Bucket& bucket = buckets_[index];
  std::shared_ptr<CompletionLog> log = log_;
  {
    std::lock_guard<std::mutex> log_lock(log->mutex);
    log->launched[index] = Clock::now();
  }
  std::vector<torch::Tensor> tensors{bucket.buffer};
  try {
    bucket.work = backend_.allreduce(tensors, c10d::AllreduceOptions());
  } catch (const std::exception& e) {
    throw Error("GradientReducer: launching the allreduce of bucket " + std::to_string(index) +
                " failed: " + e.what());
  }
  c10::intrusive_ptr<c10::ivalue::Future> future;
  try {
    future = bucket.work->getFuture();
  } catch (const std::exception&) {
    future.reset();  // this backend has no futures: finish() records the completion
  }
  bucket.has_future = static_cast<bool>(future);
  if (future) {
    // Runs on the backend's thread when the allreduce completes (or here, if it already has).
    future->addCallback([log, index](c10::ivalue::Future&) {
      std::lock_guard<std::mutex> log_lock(log->mutex);
      log->completed[index] = Clock::now();
      log->done[index] = 1;
      log->completed_cv.notify_all();
    });
  }
}

void GradientReducer::record_into(Timeline* timeline, const std::string& backend_name) {
  std::lock_guard<std::mutex> lock(mutex_);
  timeline_ = timeline;
  if (timeline_) timeline_->describe_comm(backend_name);
}

void GradientReducer::finish() {
  const Clock::time_point finish_start = Clock::now();
  std::lock_guard<std::mutex> lock(mutex_);
  if (!step_open_) {
    throw Error(
        "GradientReducer::finish() without prepare(): call prepare() before backward() "
        "and finish() after it");
  }
  {
    // Gradients that never arrived (unused parameters) count as zeros.
    torch::NoGradGuard no_grad;
    for (size_t b = next_bucket_; b < buckets_.size(); ++b) {
      for (size_t index : buckets_[b].parameters) {
        if (!parameters_[index].arrived) parameters_[index].slot.zero_();
      }
      buckets_[b].pending = 0;
    }
  }
  launch_filled_buckets();
  std::shared_ptr<CompletionLog> log = log_;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    Bucket& bucket = buckets_[b];
    try {
      if (!bucket.work) throw Error("it was never launched (an earlier launch failed)");
      bucket.work->wait();
    } catch (const std::exception& e) {
      step_open_ = false;
      next_bucket_ = 0;
      throw Error("GradientReducer: the allreduce of bucket " + std::to_string(b) +
                  " failed (every rank must build the reducer from the same parameters and run "
                  "the same steps): " +
                  e.what());
    }
    std::unique_lock<std::mutex> log_lock(log->mutex);
    if (bucket.has_future) {
      log->completed_cv.wait(log_lock, [&] { return log->done[b] != 0; });
    } else if (!log->done[b]) {
      log->completed[b] = Clock::now();
      log->done[b] = 1;
    }
  }
  const Clock::time_point comm_end = Clock::now();

  torch::NoGradGuard no_grad;
  for (Bucket& bucket : buckets_) {
    if (world_size_ > 1) bucket.buffer.div_(world_size_);
    for (size_t index : bucket.parameters) {
      ParameterSlot& slot = parameters_[index];
      if (!slot.has_gradient) continue;
      torch::Tensor averaged = slot.slot.view(slot.parameter.sizes());
      torch::Tensor& grad = slot.parameter.mutable_grad();
      if (grad.defined() && grad.sizes() == averaged.sizes() &&
          grad.scalar_type() == averaged.scalar_type() && grad.device() == averaged.device()) {
        grad.copy_(averaged);
      } else {
        grad = averaged.clone();
      }
    }
    bucket.work.reset();
  }

  ReducerStats step;
  std::vector<std::pair<Clock::time_point, Clock::time_point>> intervals;
  {
    std::lock_guard<std::mutex> log_lock(log->mutex);
    for (size_t b = 0; b < buckets_.size(); ++b) {
      intervals.emplace_back(log->launched[b], std::max(log->launched[b], log->completed[b]));
    }
  }
  if (timeline_) {
    // The calls in the order they started, each with its bucket's bytes.
    std::vector<size_t> order(buckets_.size());
    for (size_t b = 0; b < order.size(); ++b) order[b] = b;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return intervals[a].first < intervals[b].first; });
    for (size_t b : order) {
      timeline_->comm_call(intervals[b].first, intervals[b].second,
                           static_cast<double>(tensor_bytes(buckets_[b].buffer)));
    }
    timeline_->comm_exposed(finish_start, comm_end);
  }
  step.comm_seconds = union_seconds(std::move(intervals));
  step.exposed_seconds = seconds_between(finish_start, comm_end);
  for (const Bucket& bucket : buckets_)
    step.bytes += static_cast<double>(tensor_bytes(bucket.buffer));
  step.allreduces = static_cast<int64_t>(buckets_.size());
  step.steps = 1;
  last_ = step;
  add_stats(total_, step);
  step_open_ = false;
  next_bucket_ = 0;
}

ReducerStats GradientReducer::last_step_stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_;
}

ReducerStats GradientReducer::total_stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return total_;
}

void GradientReducer::reset_stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  total_ = ReducerStats();
}

int64_t GradientReducer::bucket_count() const { return static_cast<int64_t>(buckets_.size()); }

std::vector<int64_t> GradientReducer::bucket_bytes() const {
  std::vector<int64_t> bytes;
  for (const Bucket& bucket : buckets_) bytes.push_back(tensor_bytes(bucket.buffer));
  return bytes;
}

std::vector<std::vector<size_t>> GradientReducer::bucket_parameters() const {
  std::vector<std::vector<size_t>> result;
  for (const Bucket& bucket : buckets_) result.push_back(bucket.parameters);
  return result;
}

}  // namespace dlbench::nn
