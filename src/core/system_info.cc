#include "core/system_info.h"

#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <dlfcn.h>
#include <fmt/core.h>
#include <link.h>
#include <sched.h>
#include <sys/utsname.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>

#include "core/build_info.h"
#include "core/distributed.h"
#include "core/strings.h"

namespace dlbench {

namespace {

/// A clock a parent process handed over (adopt_cpu_clock), used instead of measuring one.
struct AdoptedClock {
  double hz = 0;
  std::string source;
};
AdoptedClock& adopted_clock() {
  static AdoptedClock clock;
  return clock;
}

}  // namespace

namespace {

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return trim(line);
}

}  // namespace

double measure_cpu_clock_hz() {
#if defined(__x86_64__)
  // 64 dependent 1-cycle adds per iteration; the loop counter runs on another port. The best of
  // many short bursts (about 0.35 ms each) lets the core reach its boost clock first, and on a
  // loaded machine some bursts run without being descheduled (long bursts never did: under a
  // load of 3 per core the clock read 0.7 GHz instead of 3.7).
  double best = 0;
  for (int attempt = 0; attempt < 120; ++attempt) {
    uint64_t value = 0, iterations = 20000;
    auto start = std::chrono::steady_clock::now();
    asm volatile(
        "1:\n\t"
        ".rept 64\n\t"
        "add $1, %0\n\t"
        ".endr\n\t"
        "dec %1\n\t"
        "jnz 1b\n\t"
        : "+r"(value), "+r"(iterations)
        :
        : "cc");
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (seconds > 0) best = std::max(best, 64.0 * 20000 / seconds);
  }
  return best;
#else
  return 0;
#endif
}

double read_last_level_cache_bytes(const std::string& sysfs_cache_dir) {
  int best_level = 0;
  double best_bytes = 0;
  for (int index = 0; index < 16; ++index) {
    std::string dir = sysfs_cache_dir + "/index" + std::to_string(index);
    std::ifstream level_in(dir + "/level"), type_in(dir + "/type"), size_in(dir + "/size");
    int level = 0;
    std::string type, size;
    if (!(level_in >> level) || !(type_in >> type) || !(size_in >> size)) continue;
    if (type != "Data" && type != "Unified") continue;
    double multiplier = 1;
    char unit = size.empty() ? '\0' : size.back();
    if (unit == 'K') multiplier = 1024;
    if (unit == 'M') multiplier = 1024.0 * 1024;
    if (unit == 'G') multiplier = 1024.0 * 1024 * 1024;
    if (multiplier > 1) size.pop_back();
    std::optional<double> value = parse_double(size);
    if (!value || !(*value > 0)) continue;
    if (level > best_level) {
      best_level = level;
      best_bytes = *value * multiplier;
    }
  }
  return best_bytes;
}

namespace {

CpuInfo read_cpu_info() {
  CpuInfo info;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::set<std::pair<std::string, std::string>> cores;
  std::set<std::string> packages;
  std::string physical_id = "0";
  int processors = 0;
  double mhz = 0;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = trim(line.substr(0, colon));
    std::string value = trim(line.substr(colon + 1));
    if (key == "processor") {
      ++processors;
    } else if (key == "vendor_id" && info.vendor.empty()) {
      info.vendor = value;
    } else if ((key == "model name" || key == "Model") && info.model.empty()) {
      info.model = value;
    } else if ((key == "flags" || key == "Features") && info.flags.empty()) {
      info.flags = split_whitespace(value);
    } else if (key == "physical id") {
      physical_id = value;
      packages.insert(value);
    } else if (key == "core id") {
      cores.insert({physical_id, value});
    } else if (key == "cpu MHz" && mhz == 0) {
      mhz = parse_double(value).value_or(0);
    }
  }
  info.logical_cpus = std::max(1, static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)));
  if (processors > 0) info.logical_cpus = std::min(info.logical_cpus, processors);
  cpu_set_t mask;
  info.affinity_cpus = info.logical_cpus;
  if (sched_getaffinity(0, sizeof(mask), &mask) == 0) {
    info.affinity_cpus = std::max(1, CPU_COUNT(&mask));
  }
  info.physical_cores = cores.empty() ? info.logical_cpus : static_cast<int>(cores.size());
  info.sockets = packages.empty() ? 1 : static_cast<int>(packages.size());
  info.nominal_clock_hz = mhz * 1e6;
  info.last_level_cache_bytes = read_last_level_cache_bytes();

  // Clock for theoretical peaks: a user override, then the clock measured by a dependent-add
  // chain (what the core really runs at, boost included, even under a hypervisor), then the
  // kernel's maximum, then cpuinfo's, then the model name's "@ 2.20GHz".
  if (const char* env = std::getenv("DLBENCH_CPU_CLOCK_HZ")) {
    if (auto hz = parse_double(env); hz && *hz > 0) {
      info.clock_hz = *hz;
      const char* source = std::getenv("DLBENCH_CPU_CLOCK_SOURCE");
      info.clock_source = source ? source : "DLBENCH_CPU_CLOCK_HZ (user override)";
      return info;
    }
  }
  if (adopted_clock().hz > 0) return info;  // cpu_info() takes the parent's clock
  if (double measured = measure_cpu_clock_hz(); measured > 0) {
    info.clock_hz = measured;
    info.clock_source = "measured (dependent-add chain on one core)";
    return info;
  }
  std::string max_khz = read_first_line("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq");
  if (auto khz = parse_double(max_khz); khz && *khz > 0) {
    info.clock_hz = *khz * 1e3;
    info.clock_source = "cpufreq cpuinfo_max_freq (maximum boost clock)";
  } else if (mhz > 0) {
    info.clock_hz = mhz * 1e6;
    info.clock_source = "/proc/cpuinfo 'cpu MHz'";
  } else {
    size_t at = info.model.find('@');
    if (at != std::string::npos) {
      double ghz = std::atof(trim(info.model.substr(at + 1)).c_str());
      if (ghz > 0) {
        info.clock_hz = ghz * 1e9;
        info.clock_source = "model name (nominal clock)";
      }
    }
  }
  return info;
}

std::string os_pretty_name() {
  std::ifstream in("/etc/os-release");
  std::string line;
  while (std::getline(in, line)) {
    if (starts_with(line, "PRETTY_NAME=")) {
      std::string value = line.substr(12);
      if (value.size() >= 2 && value.front() == '"') value = value.substr(1, value.size() - 2);
      return value;
    }
  }
  return "unknown";
}

/// A "Field:   123 kB" line of a /proc file, in bytes; 0 when absent.
double proc_kib_field_bytes(const std::string& path, const std::string& field) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (starts_with(line, field + ":")) {
      auto tokens = split_whitespace(line.substr(field.size() + 1));
      if (!tokens.empty()) return parse_double(tokens[0]).value_or(0) * 1024.0;
    }
  }
  return 0;
}

// Loaded shared objects, for finding which BLAS the process really uses.
int collect_library(struct dl_phdr_info* info, size_t, void* data) {
  auto* names = static_cast<std::vector<std::string>*>(data);
  if (info->dlpi_name && info->dlpi_name[0]) names->push_back(info->dlpi_name);
  return 0;
}

std::vector<std::string> loaded_libraries() {
  std::vector<std::string> names;
  dl_iterate_phdr(collect_library, &names);
  return names;
}

std::string real_path(const std::string& path) {
  char buffer[4096];
  if (realpath(path.c_str(), buffer)) return buffer;
  return path;
}

template <class F>
F find_symbol(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
}

std::string compiler_version() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("g++ ") + __VERSION__;
#else
  return "unknown";
#endif
}

}  // namespace

bool CpuInfo::has_flag(const std::string& flag) const {
  return std::find(flags.begin(), flags.end(), flag) != flags.end();
}

void adopt_cpu_clock(double hz, const std::string& source) {
  if (!(hz > 0)) return;
  adopted_clock() = AdoptedClock{hz, source};
}

const CpuInfo& cpu_info() {
  static const CpuInfo info = [] {
    CpuInfo read = read_cpu_info();
    if (adopted_clock().hz > 0) {
      read.clock_hz = adopted_clock().hz;
      read.clock_source = adopted_clock().source;
    }
    return read;
  }();
  return info;
}

int usable_cpu_count() { return std::max(1, cpu_info().affinity_cpus); }

int max_thread_count() {
  return std::min(kMaxThreadsAbsolute, kMaxThreadsPerCpu * usable_cpu_count());
}

std::string thread_count_problem(int64_t threads) {
  if (threads < 1) return "must be a positive integer";
  if (threads <= max_thread_count()) return "";
  if (max_thread_count() == kMaxThreadsAbsolute) {
    return fmt::format("at most {} threads", kMaxThreadsAbsolute);
  }
  return fmt::format("at most {} threads ({} x the {} usable CPUs)", max_thread_count(),
                     kMaxThreadsPerCpu, usable_cpu_count());
}

int default_thread_count() {
  const CpuInfo& cpu = cpu_info();
  int cores = std::max(1, std::min(cpu.physical_cores, cpu.affinity_cpus));
  // The ranks of a distributed run on one host share its cores (docs/distributed.md).
  int local_ranks = 1;
  try {
    dist::RankInfo rank = dist::detect_rank();
    if (rank.distributed() && rank.local_world_size > 1) local_ranks = rank.local_world_size;
  } catch (const std::exception&) {
  }
  return std::max(1, cores / local_ranks);
}

BlasInfo active_blas() {
  BlasInfo blas;
  blas.name = "unknown";
  for (const auto& library : loaded_libraries()) {
    std::string base = library.substr(library.rfind('/') + 1);
    if (starts_with(base, "libblas.so") || starts_with(base, "libopenblas") ||
        starts_with(base, "libmkl_rt") || starts_with(base, "libblis")) {
      if (blas.library.empty() || starts_with(base, "libblas.so"))
        blas.library = real_path(library);
    }
  }
  using ConfigFn = char* (*)();
  using ThreadsFn = int (*)();
  if (auto config = find_symbol<ConfigFn>("openblas_get_config")) {
    blas.name = "OpenBLAS";
    blas.detail = config();
    if (auto core = find_symbol<ConfigFn>("openblas_get_corename")) {
      blas.detail += std::string(", core ") + core();
    }
    if (auto threads = find_symbol<ThreadsFn>("openblas_get_num_threads")) blas.threads = threads();
  } else if (find_symbol<void*>("mkl_get_version_string") ||
             find_symbol<void*>("MKL_Get_Version")) {
    blas.name = "Intel MKL";
  } else if (find_symbol<void*>("bli_info_get_version_str")) {
    blas.name = "BLIS";
  } else if (!blas.library.empty() && blas.library.find("/blas/") != std::string::npos) {
    blas.name = "reference BLAS (netlib): slow; install libopenblas0-pthread";
  }
  return blas;
}

void set_thread_count(int threads) {
  at::set_num_threads(threads);
  using SetThreadsFn = void (*)(int);
  if (auto set_blas = find_symbol<SetThreadsFn>("openblas_set_num_threads")) set_blas(threads);
}

#ifndef DLBENCH_WITH_CUDA
std::vector<GpuInfo> gpu_info() { return {}; }
nlohmann::json cuda_versions() {
  return {{"available", false}, {"reason", "LibTorch built without CUDA"}};
}
#endif

double host_peak_rss_bytes() { return proc_kib_field_bytes("/proc/self/status", "VmHWM"); }

bool reset_host_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  if (!out) return false;
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

std::string utc_timestamp() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

nlohmann::json machine_context() {
  using nlohmann::json;
  const CpuInfo& cpu = cpu_info();
  json context;
  context["timestamp"] = utc_timestamp();

  char hostname[256] = {0};
  gethostname(hostname, sizeof(hostname) - 1);
  struct utsname uts {};
  uname(&uts);
  context["host"] = {{"hostname", hostname},
                     {"os", os_pretty_name()},
                     {"kernel", std::string(uts.release)},
                     {"arch", std::string(uts.machine)}};

  context["cpu"] = {{"vendor", cpu.vendor},
                    {"model", cpu.model},
                    {"sockets", cpu.sockets},
                    {"physical_cores", cpu.physical_cores},
                    {"logical_cpus", cpu.logical_cpus},
                    {"affinity_cpus", cpu.affinity_cpus},
                    {"clock_hz", cpu.clock_hz},
                    {"clock_source", cpu.clock_source},
                    {"nominal_clock_hz", cpu.nominal_clock_hz},
                    {"last_level_cache_bytes", cpu.last_level_cache_bytes},
                    {"flags", cpu.flags}};
  context["memory"] = {{"total_bytes", proc_kib_field_bytes("/proc/meminfo", "MemTotal")},
                       {"available_bytes", proc_kib_field_bytes("/proc/meminfo", "MemAvailable")}};

  context["build"] = {
      {"dlbench_version", DLBENCH_VERSION},
      {"git_commit", git_commit()},
      {"compiler", compiler_version()},
#ifdef NDEBUG
      {"build_type", "release"},
#else
      {"build_type", "debug"},
#endif
  };
#ifdef DLBENCH_WITH_CUDA
  context["build"]["cuda_support"] = true;
#else
  context["build"]["cuda_support"] = false;
#endif

  BlasInfo blas = active_blas();
  json libraries;
  libraries["libtorch"] = {{"version", fmt::format("{}.{}.{}", TORCH_VERSION_MAJOR,
                                                   TORCH_VERSION_MINOR, TORCH_VERSION_PATCH)},
                           {"config", at::show_config()}};
  libraries["blas"] = {{"name", blas.name},
                       {"detail", blas.detail},
                       {"library", blas.library},
                       {"threads", blas.threads}};
  libraries["onednn"] = {{"available", at::hasMKLDNN()},
                         {"version", at::hasMKLDNN() ? at::get_mkldnn_version() : ""}};
  libraries["openmp"] = {{"available", at::hasOpenMP()},
                         {"version", at::hasOpenMP() ? at::get_openmp_version() : ""}};
  libraries["mkl"] = at::hasMKL();
  context["libraries"] = libraries;

  context["threads"] = {{"libtorch_default_intra_op", at::get_num_threads()},
                        {"libtorch_default_inter_op", at::get_num_interop_threads()},
                        {"blas", blas.threads},
                        {"default", default_thread_count()}};

  json gpus = json::array();
  for (const auto& gpu : gpu_info()) {
    gpus.push_back({{"index", gpu.index},
                    {"name", gpu.name},
                    {"compute_capability", fmt::format("{}.{}", gpu.cc_major, gpu.cc_minor)},
                    {"multiprocessors", gpu.multiprocessors},
                    {"sm_clock_hz", gpu.sm_clock_hz},
                    {"memory_clock_hz", gpu.memory_clock_hz},
                    {"memory_bus_bits", gpu.memory_bus_bits},
                    {"memory_bytes", gpu.memory_bytes},
                    {"l2_bytes", gpu.l2_bytes}});
  }
  context["cuda"] = cuda_versions();
  context["cuda"]["devices"] = gpus;

  json environment = json::object();
  for (const char* name :
       {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_PROC_BIND", "OMP_PLACES",
        "GOMP_CPU_AFFINITY", "KMP_AFFINITY", "CUDA_VISIBLE_DEVICES", "PYTORCH_CUDA_ALLOC_CONF",
        "DNNL_MAX_CPU_ISA", "ONEDNN_MAX_CPU_ISA", "LD_PRELOAD", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT",
        "KMP_BLOCKTIME"}) {
    if (const char* value = std::getenv(name)) environment[name] = value;
  }
  context["environment"] = environment;
  return context;
}

}  // namespace dlbench
