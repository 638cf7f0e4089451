// LibTorch c10d process groups for distributed problems: the run's rendezvous store and one
// problem's groups (Gloo for control and CPU tensors, NCCL for CUDA tensors). See
// docs/distributed.md.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "core/comm_backend.h"
#include "core/comm_group.h"
#include "core/distributed.h"

namespace dlbench::dist {

/// The run's rendezvous: rank 0 serves a TCP key-value store (c10d::TCPStore) for the whole run
/// and every rank connects to it. Problems meet in it under their own key prefix, and rank 0
/// gathers the other ranks' results through it.
class Rendezvous {
 public:
  /// Serves (rank 0) or connects (the others); throws Error naming the address when the store
  /// cannot be reached within `timeout_s`.
  Rendezvous(const RankInfo& info, double timeout_s);
  ~Rendezvous();

  const RankInfo& info() const { return info_; }
  /// Stores `value` under `key`.
  void set(const std::string& key, const std::string& value);
  /// The value of `key`, waiting up to `timeout_s` for it; throws Error on timeout.
  std::string get(const std::string& key, double timeout_s);
  /// True when `key` is set (does not wait).
  bool has(const std::string& key);
  /// Waits up to `timeout_s` for `key`; false when it did not appear.
  bool wait(const std::string& key, double timeout_s);

 private:
  RankInfo info_;
  c10::intrusive_ptr<c10d::Store> store_;
};

/// One problem's process groups in the process that runs it: a Gloo group that the runner
/// uses to keep every rank's loops in step, and the group collectives of a device run on
/// (created on first use: Gloo on the CPU, NCCL on CUDA devices).
class ProblemGroup : public CommGroup {
 public:
  /// Joins the problem's groups (every rank of the spec must do the same); throws Error when a
  /// peer does not arrive within the spec's timeout.
  explicit ProblemGroup(const GroupSpec& spec);
  ~ProblemGroup();
  ProblemGroup(const ProblemGroup&) = delete;
  ProblemGroup& operator=(const ProblemGroup&) = delete;

  int rank() const override { return spec_.rank; }
  int world_size() const override { return spec_.world_size; }
  const GroupSpec& spec() const { return spec_; }
  /// The largest of every rank's `mine` (an allreduce-max on the control group; a barrier too):
  /// the runner's votes, so its time-bounded loops end on the same step everywhere.
  int max(int mine);
  /// Waits until every rank arrives.
  void barrier();
  /// The backend collectives on `device` use (Gloo for CPU tensors, NCCL for CUDA ones).
  CommBackend& backend_for(const torch::Device& device) override;
  /// The problem's store (keys under the problem's prefix).
  c10d::Store& store() { return *store_; }

 private:
  GroupSpec spec_;
  c10::intrusive_ptr<c10d::Store> store_;
  CommBackendPtr control_;
  CommBackendPtr cuda_;
};

/// The group of a problem that runs on one rank: comm/... problems run without a launcher
/// still go through c10d, over one rank. Backends are created on first use.
class LocalGroup : public CommGroup {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  CommBackend& backend_for(const torch::Device& device) override;

 private:
  CommBackendPtr cpu_, cuda_;
};

/// A Gloo backend for `rank` of `world_size` meeting in `store` (bound to `host`'s address;
/// empty: this host's name, falling back to the loopback address).
CommBackendPtr make_gloo_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                 int world_size, double timeout_s, const std::string& host = "");

#if DLBENCH_WITH_CUDA
/// An NCCL backend for CUDA tensors (process_group_cuda.cc).
CommBackendPtr make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                 int world_size, double timeout_s);
#endif

}  // namespace dlbench::dist
