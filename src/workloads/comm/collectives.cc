// comm/...: the collectives of distributed training through LibTorch's c10d backends (Gloo on
// the CPU, NCCL on GPUs), measured as nccl-tests measures them: time per call, algorithm
// bandwidth algbw = size / time and bus bandwidth busbw = algbw x factor, with a count of wrong
// elements on every run. `size` follows nccl-tests' convention per collective (see
// docs/workloads/comm.md). Run them with --nproc N, mpirun, srun or torchrun; alone, they run
// over one rank.
#include <fmt/core.h>
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "core/comm_group.h"
#include "core/distributed.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "nn/check.h"

namespace dlbench {
namespace {

/// A known value for element `j` of rank `r`'s input: small integers in [-6, 6], exact in every
/// dtype, so sums of a few thousand ranks stay exact and the expected output is computable.
torch::Tensor pattern(int rank, int64_t begin, int64_t count) {
  torch::Tensor j = torch::arange(begin, begin + count, torch::kInt64);
  return ((j * 3 + rank * 7) % 13 - 6).to(torch::kDouble);
}

/// What every collective shares: its size, dtype and backend; the timed buffers (zeros, so
/// repeated reductions neither overflow nor slow down) and the check.
class Collective : public Workload {
 public:
  /// The parameters every collective takes, then `extra`.
  static std::vector<ParamSpec> params(std::vector<ParamSpec> extra = {}) {
    std::vector<ParamSpec> out = {
        ParamSpec::integer("size", int64_t{1} << 20,
                           "bytes by nccl-tests' convention (see docs/workloads/comm.md); rounded "
                           "down to a whole number of elements per rank",
                           1),
        ParamSpec::choice("dtype", "fp32", {"fp32", "fp64", "bf16", "fp16"}, "element type"),
    };
    out.insert(out.end(), extra.begin(), extra.end());
    return out;
  }

  /// `splits`: `size` spans every rank's part (allgather, reduce_scatter, all_to_all).
  Collective(const Problem& problem, std::string name, bool splits)
      : Workload(problem),
        name_(std::move(name)),
        dtype_(dtype_named(problem.get("dtype"))),
        splits_(splits) {
    size_chunks(1);
  }

  WorkCounts work() const override {
    WorkCounts work;
    work.comm_bytes = static_cast<double>(size_elements()) * dtype_bytes(dtype_);
    work.bus_factor = dist::bus_factor(name_, ranks_);
    work.group_counts = true;
    work.samples = 1;
    work.sample_unit = "calls";
    work.dtype = dtype_name(dtype_);
    work.primary = "busbw";
    return work;
  }

  Description describe() const override {
    Description d;
    d.summary = fmt::format("{} of {} over {} rank(s) ({})", name_, format_bytes(work().comm_bytes),
                            ranks_, dtype_name(dtype_));
    d.facts = {{"elements", std::to_string(size_elements())},
               {"bus factor", fmt::format("{:.4g}", dist::bus_factor(name_, ranks_))},
               {"size convention", size_convention()}};
    return d;
  }

  void setup(ExecContext& context) override {
    device_ = context.device.torch_device();
    if (!context.group) throw Error(problem_.workload + " needs a communication group");
    ranks_ = context.group->world_size();
    rank_ = context.group->rank();
    size_chunks(ranks_);
    backend_ = &context.group->backend_for(device_);
    backend_name_ = comm_backend_name(device_);
    options_ = torch::TensorOptions().dtype(scalar_type(dtype_)).device(device_);
    // Every rank asks the backend the same question, so the probe itself is a collective.
    try {
      std::vector<torch::Tensor> probe{torch::zeros({1}, options_)};
      wait(backend_->allreduce(probe));
    } catch (const std::exception& e) {
      std::string message = e.what();
      if (message.find("Invalid scalar type") != std::string::npos ||
          message.find("not supported") != std::string::npos) {
        throw Unsupported(fmt::format("the {} backend of this LibTorch has no {} collectives",
                                      backend_name_, dtype_name(dtype_)));
      }
      throw;
    }
    prepare(/*checking=*/false);
  }

  void step() override { run(); }

  CheckOutcome check() override {
    prepare(/*checking=*/true);
    run();
    int64_t wrong = count_wrong();
    prepare(/*checking=*/false);
    return CheckOutcome::compare(
        static_cast<double>(wrong), 0,
        "wrong elements in this rank's output of one call on known inputs",
        fmt::format("{} via {}; exact integer inputs, so any difference is an error", name_,
                    backend_name_));
  }

  void teardown() override { buffers_.clear(); }

 protected:
  /// Elements `size` stands for.
  int64_t size_elements() const { return chunk_ * (splits_ ? ranks_ : 1); }
  /// Elements per rank-sized chunk over `ranks` ranks: collectives whose size spans the ranks
  /// split it evenly. Before setup the counts are one rank's; setup sizes them for the group.
  void size_chunks(int ranks) {
    int64_t element = static_cast<int64_t>(dtype_bytes(dtype_));
    chunk_ = std::max<int64_t>(1, problem_.get_int("size") / element / (splits_ ? ranks : 1));
  }
  /// How `size` is counted, for describe and the docs.
  virtual std::string size_convention() const = 0;
  /// Allocates the buffers: zeros to time, known values to check.
  virtual void prepare(bool checking) = 0;
  /// One call (waits for its completion).
  virtual void run() = 0;
  /// Wrong elements of this rank's output after a checking call.
  virtual int64_t count_wrong() = 0;

  /// A buffer of `count` elements: this rank's pattern from element `begin` when checking,
  /// zeros otherwise.
  torch::Tensor input(bool checking, int64_t begin, int64_t count) const {
    if (!checking) return torch::zeros({count}, options_);
    return pattern(rank_, begin, count).to(options_);
  }
  /// Elements of `actual` that differ from `expected` (computed exactly in double).
  static int64_t mismatches(const torch::Tensor& actual, const torch::Tensor& expected) {
    torch::Tensor a = actual.to(torch::kCPU).to(torch::kDouble).flatten();
    return (a != expected.flatten()).sum().item<int64_t>();
  }
  void wait(const c10::intrusive_ptr<c10d::Work>& work) { work->wait(); }

  std::string name_;
  DType dtype_;
  std::string backend_name_;
  bool splits_ = false;
  int ranks_ = 1, rank_ = 0;
  int64_t chunk_ = 1;
  torch::Device device_{torch::kCPU};
  torch::TensorOptions options_;
  CommBackend* backend_ = nullptr;
  std::vector<torch::Tensor> buffers_;
};

/// The reduction of allreduce and reduce_scatter: c10d's op and the expected value.
struct Reduction {
  c10d::ReduceOp op = c10d::ReduceOp::SUM;
  std::string name = "sum";
  torch::Tensor expected(int ranks, int64_t begin, int64_t count) const {
    torch::Tensor out = pattern(0, begin, count);
    for (int r = 1; r < ranks; ++r) {
      torch::Tensor v = pattern(r, begin, count);
      out = name == "sum"   ? out + v
            : name == "max" ? torch::maximum(out, v)
                            : torch::minimum(out, v);
    }
    return out;
  }
  static Reduction parse(const std::string& name) {
    Reduction r;
    r.name = name;
    r.op = name == "max"   ? c10d::ReduceOp::MAX
           : name == "min" ? c10d::ReduceOp::MIN
                           : c10d::ReduceOp::SUM;
    return r;
  }
};

ParamSpec op_param() {
  return ParamSpec::choice("op", "sum", {"sum", "max", "min"}, "the reduction");
}

class Allreduce : public Collective {
 public:
  static WorkloadInfo info() {
    return {"comm/allreduce",
            "comm",
            "allreduce (in place) through c10d: the gradient reduction of data-parallel training",
            {},
            params({op_param()})};
  }
  explicit Allreduce(const Problem& p)
      : Collective(p, "allreduce", /*splits=*/false), reduction_(Reduction::parse(p.get("op"))) {}

 protected:
  std::string size_convention() const override { return "each rank's buffer"; }
  void prepare(bool checking) override { buffers_ = {input(checking, 0, chunk_)}; }
  void run() override {
    c10d::AllreduceOptions options;
    options.reduceOp = reduction_.op;
    wait(backend_->allreduce(buffers_, options));
  }
  int64_t count_wrong() override {
    return mismatches(buffers_[0], reduction_.expected(ranks_, 0, chunk_));
  }
  Reduction reduction_;
};

class Allgather : public Collective {
 public:
  static WorkloadInfo info() {
    return {"comm/allgather",
            "comm",
            "allgather through c10d: every rank gets every rank's part (sharded parameters)",
            {},
            params()};
  }
  explicit Allgather(const Problem& p) : Collective(p, "allgather", /*splits=*/true) {}

 protected:
  std::string size_convention() const override {
    return "the gathered output (each rank contributes size / ranks)";
  }
  void prepare(bool checking) override {
    buffers_ = {input(checking, 0, chunk_)};
    outputs_.assign(1, {});
    for (int r = 0; r < ranks_; ++r) outputs_[0].push_back(torch::empty({chunk_}, options_));
  }
  void run() override { wait(backend_->allgather(outputs_, buffers_)); }
  int64_t count_wrong() override {
    int64_t wrong = 0;
    for (int r = 0; r < ranks_; ++r) wrong += mismatches(outputs_[0][r], pattern(r, 0, chunk_));
    return wrong;
  }
  std::vector<std::vector<torch::Tensor>> outputs_;
};

class ReduceScatter : public Collective {
 public:
  static WorkloadInfo info() {
    return {"comm/reduce_scatter",
            "comm",
            "reduce_scatter through c10d: each rank gets its part of the reduction (ZeRO/FSDP "
            "gradients); on Gloo, which has none, an all_to_all and a local reduction",
            {},
            params({op_param()})};
  }
  explicit ReduceScatter(const Problem& p)
      : Collective(p, "reduce_scatter", /*splits=*/true),
        reduction_(Reduction::parse(p.get("op"))) {}

 protected:
  std::string size_convention() const override {
    return "each rank's input (each rank receives size / ranks)";
  }
  void prepare(bool checking) override {
    buffers_ = {input(checking, 0, chunk_ * ranks_), torch::empty({chunk_ * ranks_}, options_),
                torch::empty({chunk_}, options_)};
  }
  void run() override {
    if (backend_name_ == "nccl") {
      std::vector<torch::Tensor> out{buffers_[2]};
      std::vector<std::vector<torch::Tensor>> in(1);
      for (int r = 0; r < ranks_; ++r) in[0].push_back(buffers_[0].narrow(0, r * chunk_, chunk_));
      c10d::ReduceScatterOptions options;
      options.reduceOp = reduction_.op;
      wait(backend_->reduce_scatter(out, in, options));
      return;
    }
    // Gloo: every rank sends part p to rank p (the bytes a ring reduce-scatter moves), then
    // reduces the parts it received.
    std::vector<int64_t> even;
    wait(backend_->alltoall_base(buffers_[1], buffers_[0], even, even));
    torch::Tensor parts = buffers_[1].view({ranks_, chunk_});
    if (reduction_.name == "sum") {
      torch::sum_out(buffers_[2], parts, {0});
    } else if (reduction_.name == "max") {
      buffers_[2].copy_(std::get<0>(parts.max(0)));
    } else {
      buffers_[2].copy_(std::get<0>(parts.min(0)));
    }
  }
  int64_t count_wrong() override {
    return mismatches(buffers_[2], reduction_.expected(ranks_, rank_ * chunk_, chunk_));
  }
  Reduction reduction_;
};

class Broadcast : public Collective {
 public:
  static WorkloadInfo info() {
    return {"comm/broadcast",
            "comm",
            "broadcast from rank 0 through c10d: the parameter broadcast at the start of "
            "data-parallel training",
            {},
            params()};
  }
  explicit Broadcast(const Problem& p) : Collective(p, "broadcast", /*splits=*/false) {}

 protected:
  std::string size_convention() const override { return "the broadcast buffer"; }
  void prepare(bool checking) override {
    buffers_ = {checking && rank_ != 0 ? torch::full({chunk_}, 99, options_)
                                       : input(checking, 0, chunk_)};
  }
  void run() override {
    c10d::BroadcastOptions options;
    options.rootRank = 0;
    wait(backend_->broadcast(buffers_, options));
  }
  int64_t count_wrong() override { return mismatches(buffers_[0], pattern(0, 0, chunk_)); }
};

class AllToAll : public Collective {
 public:
  static WorkloadInfo info() {
    return {"comm/all_to_all",
            "comm",
            "all_to_all through c10d: each rank sends a distinct part to every rank (embedding "
            "and expert exchange in recommendation and mixture-of-experts models)",
            {},
            params()};
  }
  explicit AllToAll(const Problem& p) : Collective(p, "all_to_all", /*splits=*/true) {}

 protected:
  std::string size_convention() const override {
    return "each rank's send buffer (size / ranks to each rank)";
  }
  void prepare(bool checking) override {
    buffers_ = {input(checking, 0, chunk_ * ranks_), torch::empty({chunk_ * ranks_}, options_)};
  }
  void run() override {
    std::vector<int64_t> even;
    wait(backend_->alltoall_base(buffers_[1], buffers_[0], even, even));
  }
  int64_t count_wrong() override {
    // Part q of the output is part `rank` of rank q's input.
    int64_t wrong = 0;
    for (int q = 0; q < ranks_; ++q) {
      wrong +=
          mismatches(buffers_[1].narrow(0, q * chunk_, chunk_), pattern(q, rank_ * chunk_, chunk_));
    }
    return wrong;
  }
};

class SendRecv : public Collective {
 public:
  static WorkloadInfo info() {
    return {"comm/sendrecv",
            "comm",
            "send/recv around a ring through c10d (pipeline-parallel activations): rank r sends "
            "to r+1 and receives from r-1",
            {},
            params()};
  }
  explicit SendRecv(const Problem& p) : Collective(p, "sendrecv", /*splits=*/false) {}

  void setup(ExecContext& context) override {
    if (!context.group || context.group->world_size() < 2) {
      throw Unsupported("comm/sendrecv needs 2 or more ranks (run it with --nproc 2)");
    }
    Collective::setup(context);
  }

 protected:
  std::string size_convention() const override { return "the message each rank sends"; }
  void prepare(bool checking) override {
    buffers_ = {input(checking, 0, chunk_), torch::empty({chunk_}, options_)};
  }
  void run() override {
    int next = (rank_ + 1) % ranks_, previous = (rank_ + ranks_ - 1) % ranks_;
    std::vector<torch::Tensor> send{buffers_[0]}, receive{buffers_[1]};
    auto sent = backend_->send(send, next, /*tag=*/0);
    auto received = backend_->recv(receive, previous, /*tag=*/0);
    wait(sent);
    wait(received);
  }
  int64_t count_wrong() override {
    return mismatches(buffers_[1], pattern((rank_ + ranks_ - 1) % ranks_, 0, chunk_));
  }
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(Allreduce);
DLBENCH_REGISTER_WORKLOAD(Allgather);
DLBENCH_REGISTER_WORKLOAD(ReduceScatter);
DLBENCH_REGISTER_WORKLOAD(Broadcast);
DLBENCH_REGISTER_WORKLOAD(AllToAll);
DLBENCH_REGISTER_WORKLOAD(SendRecv);

}  // namespace dlbench
