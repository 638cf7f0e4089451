#include "analysis/ceilings.h"

#include <fmt/core.h>
#include <torch/version.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "analysis/ceiling_cache.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/files.h"
#include "core/safe_file.h"
#include "core/strings.h"

namespace dlbench {

namespace {
const char* const kDtypes[] = {"fp64", "fp32", "tf32", "bf16", "fp16", "int8"};

int device_index(const std::string& device) {
  if (device == "cuda") return 0;
  if (starts_with(device, "cuda:"))
    return static_cast<int>(parse_int(device.substr(5)).value_or(0));
  return -1;
}
}  // namespace

std::optional<CpuRate> cpu_flops_per_cycle(const CpuInfo& cpu, const std::string& dtype) {
  // fp32 lanes x FMA pipes x 2 (an FMA is two operations).
  double fp32 = 0;
  std::string basis;
  bool amd = cpu.vendor == "AuthenticAMD";
  if (cpu.has_flag("avx512f") && !amd) {
    fp32 = 16 * 2 * 2;
    basis =
        "AVX-512: 16 fp32 lanes x 2 FMA pipes x 2 (parts with one 512-bit FMA unit peak at "
        "half: set DLBENCH_CPU_FP32_FLOPS_PER_CYCLE=32)";
  } else if (cpu.has_flag("avx512f") && amd && cpu.has_flag("avx512_vp2intersect")) {
    fp32 = 16 * 2 * 2;
    basis = "AMD AVX-512 on a 512-bit datapath (Zen 5): 16 fp32 lanes x 2 FMA pipes x 2";
  } else if (cpu.has_flag("avx512f") && amd) {
    fp32 = 8 * 2 * 2;
    basis = "AMD AVX-512 on a 256-bit datapath (Zen 4): 8 fp32 lanes x 2 FMA pipes x 2";
  } else if (cpu.has_flag("avx2") && cpu.has_flag("fma")) {
    fp32 = 8 * 2 * 2;
    basis = "AVX2+FMA: 8 fp32 lanes x 2 FMA pipes x 2";
  } else if (cpu.has_flag("avx")) {
    fp32 = 8 * 2;
    basis = "AVX without FMA: 8 fp32 lanes x (1 add + 1 mul)";
  } else if (cpu.has_flag("sse2")) {
    fp32 = 4 * 2;
    basis = "SSE2: 4 fp32 lanes x (1 add + 1 mul)";
  } else if (cpu.has_flag("asimd")) {
    fp32 = 4 * 2 * 2;
    basis = "Arm NEON: 4 fp32 lanes x 2 FMA pipes x 2";
  }
  if (const char* override_rate = std::getenv("DLBENCH_CPU_FP32_FLOPS_PER_CYCLE")) {
    if (auto value = parse_double(override_rate); value && *value > 0) {
      fp32 = *value;
      basis = "DLBENCH_CPU_FP32_FLOPS_PER_CYCLE (user override)";
    }
  }
  std::optional<DType> type = parse_dtype(dtype);
  if (fp32 <= 0 || !type) return std::nullopt;
  switch (*type) {
    case DType::kFp32:
      return CpuRate{fp32, basis};
    case DType::kFp64:
      return CpuRate{fp32 / 2, basis + ", fp64 at half the fp32 rate"};
    case DType::kBf16:
      if (cpu.has_flag("amx_bf16")) return CpuRate{2048, "AMX-BF16: 1024 bf16 FMA per cycle x 2"};
      if (cpu.has_flag("avx512_bf16")) {
        return CpuRate{fp32 * 2, basis + ", x2 for AVX512_BF16 dot products"};
      }
      return CpuRate{fp32, basis + "; no native bf16: computed on the fp32 units"};
    case DType::kFp16:
      if (cpu.has_flag("amx_fp16")) return CpuRate{2048, "AMX-FP16: 1024 fp16 FMA per cycle x 2"};
      if (cpu.has_flag("avx512_fp16")) return CpuRate{fp32 * 2, basis + ", x2 for AVX512-FP16"};
      return CpuRate{fp32, basis + "; no native fp16: computed on the fp32 units"};
    case DType::kInt8:
      if (cpu.has_flag("amx_int8")) return CpuRate{4096, "AMX-INT8: 2048 int8 MAC per cycle x 2"};
      if (cpu.has_flag("avx512_vnni") || cpu.has_flag("avx_vnni")) {
        return CpuRate{fp32 * 4, basis + ", x4 for VNNI int8 dot products (ops, not FLOPs)"};
      }
      return CpuRate{fp32 * 2, basis + ", x2 for int8 multiply-add pairs (ops, not FLOPs)"};
    case DType::kTf32:
      return std::nullopt;  // a tensor-core format: no CPU has it
  }
  return std::nullopt;
}

std::optional<double> gpu_flops_per_clock_per_sm(int cc_major, int cc_minor,
                                                 const std::string& dtype) {
  // Dense rates per SM per clock (FMA = 2 operations), from NVIDIA's architecture whitepapers:
  // V100 (7.0), T4 (7.5), A100 (8.0), A40/L40S (8.6/8.9, data-center parts), H100 (9.0),
  // B200 (10.0). fp32 is the CUDA-core rate; tf32/bf16/fp16 the tensor-core rate.
  struct Row {
    int major, minor;
    double fp64, fp32, tf32, bf16, fp16, int8;
  };
  // int8: dense tensor-core integer ops (dp4a on 7.0).
  static const Row kRows[] = {
      {7, 0, 64, 128, 0, 0, 1024, 512},          {7, 5, 4, 128, 0, 0, 1024, 2048},
      {8, 0, 128, 128, 1024, 2048, 2048, 4096},  {8, 6, 4, 256, 512, 1024, 1024, 2048},
      {8, 9, 4, 256, 512, 1024, 1024, 2048},     {9, 0, 256, 256, 2048, 4096, 4096, 8192},
      {10, 0, 128, 256, 4096, 8192, 8192, 16384}};
  std::optional<DType> type = parse_dtype(dtype);
  if (!type) return std::nullopt;
  auto rate_of = [&](const Row& row) {
    switch (*type) {
      case DType::kFp64:
        return row.fp64;
      case DType::kFp32:
        return row.fp32;
      case DType::kTf32:
        return row.tf32;
      case DType::kBf16:
        return row.bf16;
      case DType::kFp16:
        return row.fp16;
      case DType::kInt8:
        return row.int8;
    }
    return 0.0;
  };
  for (const auto& row : kRows) {
    if (row.major != cc_major || row.minor != cc_minor) continue;
    if (double rate = rate_of(row); rate > 0) return rate;
  }
  return std::nullopt;
}

std::optional<Ceiling> compute_ceiling(const std::string& device, const std::string& dtype,
                                       int threads) {
  if (device == "cpu") {
    const CpuInfo& cpu = cpu_info();
    auto rate = cpu_flops_per_cycle(cpu, dtype);
    if (!rate || cpu.clock_hz <= 0) return std::nullopt;
    int cores = std::max(1, std::min(threads, default_thread_count()));
    Ceiling ceiling;
    ceiling.value = cores * rate->flops_per_cycle * cpu.clock_hz;
    ceiling.source = "theoretical";
    ceiling.basis = fmt::format("{} core(s) x {:.0f} {} FLOP/cycle x {:.3f} GHz ({}; {})", cores,
                                rate->flops_per_cycle, dtype, cpu.clock_hz / 1e9, rate->basis,
                                cpu.clock_source);
    return ceiling;
  }
  int index = device_index(device);
  for (const auto& gpu : gpu_info()) {
    if (gpu.index != index) continue;
    auto rate = gpu_flops_per_clock_per_sm(gpu.cc_major, gpu.cc_minor, dtype);
    if (!rate || gpu.sm_clock_hz <= 0) return std::nullopt;
    Ceiling ceiling;
    ceiling.value = gpu.multiprocessors * *rate * gpu.sm_clock_hz;
    ceiling.source = "theoretical";
    ceiling.basis = fmt::format(
        "{} SMs x {:.0f} {} FLOP/clock/SM x {:.3f} GHz max SM clock (sm_{}{})", gpu.multiprocessors,
        *rate, dtype, gpu.sm_clock_hz / 1e9, gpu.cc_major, gpu.cc_minor);
    return ceiling;
  }
  return std::nullopt;
}

std::optional<Ceiling> bandwidth_ceiling(const std::string& device) {
  int index = device_index(device);
  for (const auto& gpu : gpu_info()) {
    if (gpu.index != index || gpu.memory_clock_hz <= 0 || gpu.memory_bus_bits <= 0) continue;
    Ceiling ceiling;
    ceiling.value = 2.0 * gpu.memory_clock_hz * gpu.memory_bus_bits / 8.0;
    ceiling.source = "theoretical";
    ceiling.basis = fmt::format("2 (double data rate) x {:.0f} MHz x {}-bit bus / 8",
                                gpu.memory_clock_hz / 1e6, gpu.memory_bus_bits);
    return ceiling;
  }
  return std::nullopt;
}

nlohmann::json theoretical_ceilings_json() {
  using nlohmann::json;
  json out = json::object();
  auto add_device = [&](const std::string& device, int threads) {
    json compute = json::object();
    for (const char* dtype : kDtypes) {
      if (auto c = compute_ceiling(device, dtype, threads)) {
        compute[dtype] = {{"flops", c->value}, {"source", c->source}, {"basis", c->basis}};
      }
    }
    json entry = {{"compute", compute}};
    if (auto b = bandwidth_ceiling(device)) {
      entry["bandwidth"] = {{"bytes_per_s", b->value}, {"source", b->source}, {"basis", b->basis}};
    } else {
      entry["bandwidth"] = nullptr;
    }
    out[device] = entry;
  };
  add_device("cpu", default_thread_count());
  for (const auto& gpu : gpu_info()) add_device("cuda:" + std::to_string(gpu.index), 1);
  return out;
}

namespace {

std::string cache_directory() {
  if (const char* dir = std::getenv("DLBENCH_CACHE_DIR"); dir && *dir) return dir;
  if (const char* dir = std::getenv("XDG_CACHE_HOME"); dir && *dir) {
    return std::string(dir) + "/dlbench";
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return std::string(home) + "/.cache/dlbench";
  }
  return "/tmp/dlbench-cache";
}

/// FNV-1a: a stable 64-bit hash (std::hash may differ between builds).
std::string fingerprint(const std::string& text) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return fmt::format("{:016x}", static_cast<unsigned long long>(hash));
}

std::optional<Ceiling> ceiling_entry(const nlohmann::json& entry, const char* value_key) {
  if (!entry.is_object() || !entry.contains(value_key) || !entry[value_key].is_number()) {
    return std::nullopt;
  }
  // A stale ceiling (a later figure beat it) is not used until `dlbench peak` measures it again.
  if (entry.contains("stale")) return std::nullopt;
  Ceiling c;
  c.value = entry[value_key].get<double>();
  c.source = entry.value("source", "measured");
  c.basis = entry.value("basis", "");
  if (!(c.value > 0)) return std::nullopt;
  return c;
}

/// A measured ceiling from `cache`: nullopt when absent or stale; provisional ones (measured by
/// `peak --quick`) say so in their basis.
std::optional<Ceiling> cached_ceiling(const nlohmann::json& cache, const nlohmann::json& entry,
                                      const char* value_key) {
  std::optional<Ceiling> c = ceiling_entry(entry, value_key);
  if (c && cache.value("provisional", false)) {
    c->basis += " [provisional: measured by peak --quick; `dlbench peak` measures it fully]";
  }
  return c;
}

}  // namespace

std::string measured_ceilings_path(const std::string& device, int threads) {
  const CpuInfo& cpu = cpu_info();
  std::string identity = cpu.model + "|" + std::to_string(cpu.logical_cpus) + "|" + TORCH_VERSION +
                         "|" + active_blas().name + "|" + DLBENCH_VERSION;
  for (const auto& gpu : gpu_info()) identity += "|" + gpu.name;
  std::string name = device;
  for (char& c : name) {
    if (c == ':') c = '-';
  }
  bool cpu_device = device == "cpu";
  return cache_directory() + "/peak-" + name + (cpu_device ? "-t" + std::to_string(threads) : "") +
         "-" + fingerprint(identity) + ".json";
}

namespace {

using nlohmann::json;

/// What is wrong with `value` as a ceiling entry ({"flops" or "bytes_per_s": rate > 0,
/// "source", "basis": text, "theoretical", "pct_of_theoretical": numbers}); "" when valid.
std::string ceiling_entry_problem(const json& value, const char* rate_key) {
  if (!value.is_object()) return "is not an object";
  if (!value.contains(rate_key) || !value[rate_key].is_number() ||
      !(value[rate_key].get<double>() > 0)) {
    return std::string("has no positive '") + rate_key + "'";
  }
  for (const char* key : {"source", "basis", "stale"}) {
    if (value.contains(key) && !value[key].is_string()) {
      return std::string("has a '") + key + "' that is not text";
    }
  }
  for (const char* key : {"theoretical", "pct_of_theoretical"}) {
    if (value.contains(key) && !value[key].is_number()) {
      return std::string("has a '") + key + "' that is not a number";
    }
  }
  return "";
}

}  // namespace

std::string measured_ceilings_problem(const json& cache) {
  if (!cache.is_object()) return "it is not a JSON object";
  for (const char* key : {"device", "measured_at", "dlbench_version", "cpu_model"}) {
    if (cache.contains(key) && !cache[key].is_string()) {
      return std::string("'") + key + "' is not text";
    }
  }
  if (cache.contains("provisional") && !cache["provisional"].is_boolean()) {
    return "'provisional' is not true or false";
  }
  if (cache.contains("threads") && !cache["threads"].is_number_integer()) {
    return "'threads' is not an integer";
  }
  if (cache.contains("run_options") && !cache["run_options"].is_object()) {
    return "'run_options' is not an object";
  }
  if (!cache.contains("compute") || !cache["compute"].is_object()) {
    return "'compute' is missing or not an object";
  }
  for (const auto& [dtype, entry] : cache["compute"].items()) {
    std::string problem = ceiling_entry_problem(entry, "flops");
    if (!problem.empty()) return "compute ceiling '" + printable(dtype) + "' " + problem;
  }
  for (const char* key : {"bandwidth", "host_to_device", "device_to_host"}) {
    if (!cache.contains(key) || cache[key].is_null()) continue;
    std::string problem = ceiling_entry_problem(cache[key], "bytes_per_s");
    if (!problem.empty()) return std::string("'") + key + "' " + problem;
  }
  if (cache.contains("problems")) {
    const json& problems = cache["problems"];
    if (!problems.is_array()) return "'problems' is not a list";
    for (const json& p : problems) {
      if (!p.is_object()) return "'problems' holds an entry that is not an object";
      for (const char* key : {"problem", "ceiling", "dtype", "status", "reason", "unit"}) {
        if (p.contains(key) && !p[key].is_string()) {
          return std::string("a problem's '") + key + "' is not text";
        }
      }
      if (p.contains("rate") && !p["rate"].is_number() && !p["rate"].is_null()) {
        return "a problem's 'rate' is not a number";
      }
    }
  }
  return "";
}

namespace {

/// The cache at `path`, validated; null (with one warning per file and process) when it is
/// unreadable or breaks its schema.
json read_measured_ceilings(const std::string& path, const std::string& device) {
  std::string problem;
  json cache;
  try {
    cache = parse_json_file(path, "measured-ceilings cache");
    problem = measured_ceilings_problem(cache);
    if (!problem.empty())
      problem = "measured-ceilings cache " + single_quoted(path) + ": " + problem;
  } catch (const Error& e) {
    problem = e.what();
  }
  if (problem.empty()) return cache;
  // A bad cache is treated as absent (and measured again by `dlbench peak`), with one warning
  // per file and process: the runner asks for every problem.
  static std::mutex mutex;
  static std::set<std::string> warned;
  std::lock_guard<std::mutex> lock(mutex);
  if (warned.insert(path).second) {
    std::fprintf(stderr,
                 "dlbench: warning: %s; the cache is ignored (`dlbench peak --device %s` "
                 "measures the ceilings again)\n",
                 printable(problem, 600).c_str(), device.c_str());
    std::fflush(stderr);
  }
  return nullptr;
}

}  // namespace

nlohmann::json load_measured_ceilings(const std::string& device, int threads) {
  const std::string path = measured_ceilings_path(device, threads);
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0 && errno == ENOENT) return nullptr;  // not measured yet
  // Read once per process and file version: every result of a run asks, and `dlbench peak` or a
  // stale mark rewrites the file (a new inode, size or time), which is then read again.
  struct Loaded {
    ino_t inode = 0;
    off_t size = 0;
    int64_t modified_ns = 0;
    json cache;
  };
  static std::mutex loaded_mutex;
  static std::map<std::string, Loaded> loaded;
  const int64_t modified_ns =
      static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec;
  {
    std::lock_guard<std::mutex> lock(loaded_mutex);
    auto found = loaded.find(path);
    if (found != loaded.end() && found->second.inode == info.st_ino &&
        found->second.size == info.st_size && found->second.modified_ns == modified_ns) {
      return found->second.cache;
    }
  }
  json valid = read_measured_ceilings(path, device);
  std::lock_guard<std::mutex> lock(loaded_mutex);
  loaded[path] = Loaded{info.st_ino, info.st_size, modified_ns, valid};
  return valid;
}

std::optional<Ceiling> measured_compute_ceiling(const std::string& device, const std::string& dtype,
                                                int threads) {
  nlohmann::json j = load_measured_ceilings(device, threads);
  if (j.is_null() || !j["compute"].contains(dtype)) return std::nullopt;
  return cached_ceiling(j, j["compute"][dtype], "flops");
}

std::optional<Ceiling> measured_bandwidth_ceiling(const std::string& device, int threads) {
  nlohmann::json j = load_measured_ceilings(device, threads);
  if (j.is_null() || !j.contains("bandwidth")) return std::nullopt;
  return cached_ceiling(j, j["bandwidth"], "bytes_per_s");
}

bool measured_ceilings_need_measuring(const nlohmann::json& cache, bool full) {
  if (!cache.is_object()) return true;
  if (full && cache.value("provisional", false)) return true;
  auto stale = [](const nlohmann::json& entry) {
    return entry.is_object() && entry.contains("stale");
  };
  if (cache.contains("compute") && cache["compute"].is_object()) {
    for (const auto& [dtype, entry] : cache["compute"].items()) {
      if (stale(entry)) return true;
    }
  }
  return cache.contains("bandwidth") && stale(cache["bandwidth"]);
}

int mark_measured_ceilings_stale(const nlohmann::json& stale_entries, const std::string& why) {
  if (!stale_entries.is_array()) return 0;
  int marked = 0;
  std::set<std::pair<std::string, int>> caches;
  for (const auto& entry : stale_entries) {
    if (!entry.is_object() || !entry.contains("device") || !entry["device"].is_string()) continue;
    caches.insert({entry["device"].get<std::string>(), entry.value("threads", 0)});
  }
  for (const auto& [device, threads] : caches) {
    const std::string path = measured_ceilings_path(device, threads);
    std::unique_ptr<FileLock> lock = FileLock::acquire(path);
    nlohmann::json cache = load_measured_ceilings(device, threads);
    if (cache.is_null()) continue;  // nothing cached (or a bad cache, already reported)
    bool changed = false;
    for (const auto& entry : stale_entries) {
      if (!entry.is_object() || entry.value("device", "") != device ||
          entry.value("threads", 0) != threads) {
        continue;
      }
      nlohmann::json* target = nullptr;
      if (entry.value("ceiling", "") == "compute" &&
          cache["compute"].contains(entry.value("dtype", ""))) {
        target = &cache["compute"][entry.value("dtype", "")];
      } else if (entry.value("ceiling", "") == "bandwidth" && cache["bandwidth"].is_object()) {
        target = &cache["bandwidth"];
      }
      if (target == nullptr || target->contains("stale")) continue;
      (*target)["stale"] = why;
      changed = true;
      ++marked;
    }
    if (changed) {
      write_file(path, cache.dump(1) + "\n", WriteOptions{0644, true, "the ceilings cache"});
    }
  }
  return marked;
}

}  // namespace dlbench
