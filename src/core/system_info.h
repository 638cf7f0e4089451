// What machine this is: CPU, memory, OS, libraries, GPUs. Feeds the results' context block,
// `dlbench info`, the default thread count and the theoretical ceilings.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace dlbench {

/// The host CPU as /proc/cpuinfo and sysfs describe it.
struct CpuInfo {
  std::string vendor;  ///< "GenuineIntel", "AuthenticAMD", ...
  std::string model;
  std::vector<std::string> flags;
  int logical_cpus = 1;    ///< online logical CPUs
  int affinity_cpus = 1;   ///< logical CPUs this process may run on
  int physical_cores = 1;  ///< distinct (package, core) pairs
  int sockets = 1;
  double clock_hz = 0;          ///< the clock used for theoretical peaks
  std::string clock_source;     ///< where clock_hz came from
  double nominal_clock_hz = 0;  ///< /proc/cpuinfo's "cpu MHz" (often the base clock)
  /// The largest data cache one core sees (sysfs, highest level; 0 when unknown), for STREAM's
  /// array-size rule.
  double last_level_cache_bytes = 0;
  bool has_flag(const std::string& flag) const;
};

/// The largest data or unified cache of CPU 0 in bytes, from sysfs under `sysfs_cache_dir`
/// (index*/level, type, size such as "32768K"); 0 when none can be read.
double read_last_level_cache_bytes(
    const std::string& sysfs_cache_dir = "/sys/devices/system/cpu/cpu0/cache");

/// The CPU of this machine (read once).
const CpuInfo& cpu_info();

/// The core clock measured with a chain of dependent integer adds (one per cycle), in Hz; 0 where
/// the architecture has no measurement (then cpufreq or /proc/cpuinfo is used).
double measure_cpu_clock_hz();

/// Threads used when a problem does not say: physical cores, capped by the affinity mask.
int default_thread_count();

/// Logical CPUs this process may run on (its sched_getaffinity mask).
int usable_cpu_count();

/// How many usable CPUs a problem may ask threads for, at most (kMaxThreadsAbsolute overall):
/// a few threads per CPU are a measurement of oversubscription, thousands are a typo.
constexpr int kMaxThreadsPerCpu = 64;
/// The most intra-op threads any problem may ask for, whatever the machine.
constexpr int kMaxThreadsAbsolute = 1024;

/// The most intra-op threads a problem may ask for here: kMaxThreadsPerCpu x usable_cpu_count(),
/// at most kMaxThreadsAbsolute.
int max_thread_count();

/// Why `threads` is refused ("at most 128 threads: 64 x the 2 usable CPUs"), or "" when it is
/// accepted (1 to max_thread_count()).
std::string thread_count_problem(int64_t threads);

/// The BLAS library LibTorch actually calls at run time (found among the loaded libraries).
struct BlasInfo {
  std::string name;     ///< "OpenBLAS", "reference BLAS (netlib)", "MKL", "unknown"
  std::string detail;   ///< OpenBLAS's config string, core name
  std::string library;  ///< resolved path of the loaded libblas
  int threads = 0;      ///< BLAS threads, where the library tells
};

/// Detects the active BLAS.
BlasInfo active_blas();

/// Sets intra-op threads for ATen, OpenMP and the BLAS.
void set_thread_count(int threads);

/// A CUDA device's properties (filled by device_cuda.cc in CUDA builds).
struct GpuInfo {
  int index = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0;
  int multiprocessors = 0;
  double sm_clock_hz = 0;      ///< maximum SM clock
  double memory_clock_hz = 0;  ///< memory clock
  int memory_bus_bits = 0;
  double memory_bytes = 0;
  double l2_bytes = 0;
};

/// Visible CUDA devices; empty in CPU-only builds or machines.
std::vector<GpuInfo> gpu_info();

/// Version strings of the CUDA stack (driver, runtime, cuDNN, NCCL); empty in CPU-only builds.
nlohmann::json cuda_versions();

/// Takes the CPU clock a parent process measured (a child running one of its problems), so
/// every result of a run uses one clock and one ceiling. Call before the first cpu_info().
void adopt_cpu_clock(double hz, const std::string& source);

/// The host's peak resident set size in bytes (VmHWM).
double host_peak_rss_bytes();
/// Resets the peak resident set size to the current size (Linux clear_refs); false if refused.
bool reset_host_peak_rss();

/// The machine part of a results file's context block: host, CPU, memory, build, libraries,
/// threads, GPUs, environment (the harness adds the ceilings).
nlohmann::json machine_context();

/// "2026-11-21T19:40:00Z"
std::string utc_timestamp();

}  // namespace dlbench
