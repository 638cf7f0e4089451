// Distributed runs: which rank this process is (from mpirun, srun, torchrun or dlbench's own
// launcher), the rendezvous every rank meets at, and the nccl-tests bandwidth formulas.
// Light on purpose: the c10d process groups live in harness/process_group.h. See
// docs/distributed.md.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace dlbench::dist {

/// Looks up an environment variable: nullptr when unset (std::getenv by default).
using EnvLookup = std::function<const char*(const char*)>;

/// This process's place in a distributed run.
struct RankInfo {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;        ///< rank among the processes of this host
  int local_world_size = 1;  ///< processes on this host
  std::string master_addr;   ///< host of rank 0's rendezvous store
  int master_port = 0;       ///< its TCP port
  /// Where the identity came from: "torchrun", "dlbench --nproc", "openmpi", "pmi", "slurm", or
  /// "single".
  std::string source = "single";

  /// True when more than one rank takes part.
  bool distributed() const { return world_size > 1; }
  nlohmann::json to_json() const;
};

/// The default rendezvous port (the one torchrun uses).
constexpr int kDefaultMasterPort = 29500;

/// Reads the rank from the environment, in this order: torchrun-style (RANK, WORLD_SIZE,
/// LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT; dlbench --nproc sets these), OpenMPI
/// (OMPI_COMM_WORLD_RANK/SIZE/LOCAL_RANK/LOCAL_SIZE), MPICH / Intel MPI (PMI_RANK, PMI_SIZE,
/// MPI_LOCALRANKID, MPI_LOCALNRANKS), Slurm inside an srun step (SLURM_PROCID, SLURM_NTASKS,
/// SLURM_LOCALID; the first host of SLURM_STEP_NODELIST / SLURM_JOB_NODELIST is the master).
/// MASTER_ADDR and MASTER_PORT always override. Throws Error on inconsistent values, and when
/// MPI ranks span hosts without MASTER_ADDR (MPI does not say where rank 0 runs).
RankInfo detect_rank(const EnvLookup& env = nullptr);

/// Expands a Slurm host list: "node[01-03,07],gpu5" -> node01 node02 node03 node07 gpu5.
/// Throws Error on a malformed list.
std::vector<std::string> expand_hostlist(const std::string& list);

/// What a child process needs to join one problem's process group.
struct GroupSpec {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr;
  int master_port = 0;
  std::string prefix;      ///< store keys of this problem start with it ("p3/")
  double timeout_s = 120;  ///< process-group timeout: a collective waits this long for a peer

  bool active() const { return world_size > 1; }
  nlohmann::json to_json() const;
  static GroupSpec from_json(const nlohmann::json& j);
};

// ---- nccl-tests bandwidth formulas (docs/workloads/comm.md) ----

/// The collectives of comm/..., by name: "allreduce", "allgather", "reduce_scatter",
/// "broadcast", "all_to_all", "sendrecv".
const std::vector<std::string>& collective_names();

/// The bus-bandwidth factor of a collective over `ranks` ranks, as nccl-tests defines it:
/// busbw = algbw x factor, with allreduce 2(n-1)/n, reduce_scatter, allgather and all_to_all
/// (n-1)/n, broadcast and sendrecv 1. Throws Error on an unknown collective.
double bus_factor(const std::string& collective, int ranks);

/// A free TCP port on this host (bound to port 0 and released), for a local launch.
int free_tcp_port();

/// The hostname of this machine.
std::string hostname();

}  // namespace dlbench::dist
