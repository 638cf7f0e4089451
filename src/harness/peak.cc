#include "harness/peak.h"

#include <fmt/core.h>
#include <algorithm>
#include <cstdio>
#include <fstream>

#include "analysis/ceilings.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/safe_file.h"
#include "core/strings.h"
#include "core/system_info.h"
#include "harness/isolation.h"

namespace dlbench {

using nlohmann::json;

std::vector<PeakProblem> peak_problems(const std::string& device) {
  bool gpu = device != "cpu";
  const Registry& registry = Registry::instance();
  std::vector<PeakProblem> problems;
  std::vector<DType> dtypes = {DType::kFp64, DType::kFp32, DType::kBf16, DType::kFp16};
  if (gpu) dtypes.push_back(DType::kTf32);
  // Large enough to leave the caches and amortise call overhead; small enough to take well
  // under a second per step on 2 CPU cores.
  std::string gemm = gpu ? "m=8192 n=8192 k=8192" : "m=2048 n=2048 k=2048";
  std::string conv =
      gpu ? "n=64 c=256 h=28 w=28 k=256 r=3 s=3 pad=1" : "n=16 c=256 h=14 w=14 k=256 r=3 s=3 pad=1";
  for (DType type : dtypes) {
    std::string dtype = dtype_name(type);
    problems.push_back({"compute", dtype, "micro/gemm " + gemm + " dtype=" + dtype});
    if (registry.contains("micro/conv") && type != DType::kTf32) {  // no tf32 convolution
      problems.push_back({"compute", dtype, "micro/conv " + conv + " dtype=" + dtype});
    }
  }
  // STREAM's rule: arrays far larger than the last-level cache.
  problems.push_back(
      {"bandwidth", "",
       std::string("micro/stream kernel=triad dtype=fp64 n=") + (gpu ? "268435456" : "33554432")});
  if (gpu) {
    problems.push_back({"host_to_device", "", "micro/stream kernel=h2d dtype=fp32 n=67108864"});
    problems.push_back({"device_to_host", "", "micro/stream kernel=d2h dtype=fp32 n=67108864"});
  }
  return problems;
}

RunOptions peak_run_options(bool quick) {
  RunOptions o;
  o.warmup_steps = quick ? 1 : 2;
  o.warmup_time = quick ? 0.1 : 0.5;
  o.min_steps = quick ? 2 : 5;
  o.min_time = quick ? 0.2 : 1.0;
  o.max_time = 30;
  o.repeats = quick ? 1 : 3;
  o.timeout = 300;
  o.check = true;  // a ceiling from a wrong kernel is worthless
  return o;
}

namespace {

/// The best repetition median: the rate the machine sustained over a whole repetition.
double best_time(const Result& r) {
  double best = 0;
  if (r.run.contains("repeat_medians_s")) {
    for (const auto& t : r.run["repeat_medians_s"]) {
      double v = t.get<double>();
      if (v > 0 && (best == 0 || v < best)) best = v;
    }
  }
  if (best == 0 && r.metrics.count("step_time")) best = r.metrics.at("step_time").value;
  return best;
}

}  // namespace

json measure_ceilings(const std::string& device, int threads, bool quick,
                      const std::function<void(const std::string&)>& progress) {
  const Registry& registry = Registry::instance();
  // One measurement at a time per cache file: two runs measuring at once would measure each
  // other. A run that waited takes the ceilings the other one measured.
  const std::string path = measured_ceilings_path(device, threads);
  size_t slash = path.rfind('/');
  try {
    if (slash != std::string::npos) make_directories(path.substr(0, slash));
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " (set DLBENCH_CACHE_DIR)");
  }
  std::unique_ptr<FileLock> lock = FileLock::try_acquire(path);
  if (!lock) {
    if (progress) progress("another dlbench run is measuring these ceilings; waiting for it");
    lock = FileLock::acquire(path);
    json measured = load_measured_ceilings(device, threads);
    if (!measured.is_null()) {
      measured["cache_file"] = path;
      return measured;
    }
  }
  RunOptions options = peak_run_options(quick);
  json out = {{"device", device},
              {"threads", device == "cpu" ? threads : 0},
              {"measured_at", utc_timestamp()},
              {"dlbench_version", DLBENCH_VERSION},
              {"cpu_model", cpu_info().model},
              {"run_options", options.to_json()},
              {"provisional", quick},
              {"compute", json::object()},
              {"bandwidth", nullptr},
              {"problems", json::array()}};
  std::vector<PeakProblem> problems = peak_problems(device);
  for (size_t i = 0; i < problems.size(); ++i) {
    const PeakProblem& p = problems[i];
    Problem raw = Problem::parse(p.problem);
    raw.params["device"] = device;
    raw.params["threads"] = std::to_string(threads);
    Problem resolved = registry.resolve(raw);
    Result r = run_isolated(resolved, options);
    if (interrupted()) throw Error("interrupted while measuring ceilings");
    double t = best_time(r);
    bool usable = r.status == Status::kPassed && t > 0;
    double rate = 0;
    if (usable) rate = (p.ceiling == "compute" ? r.work.flops : r.work.bytes) / t;
    json record = {{"problem", resolved.str()},
                   {"ceiling", p.ceiling},
                   {"dtype", p.dtype},
                   {"status", status_name(r.status)},
                   {"reason", r.reason},
                   {"rate", usable ? json(rate) : json(nullptr)},
                   {"unit", p.ceiling == "compute" ? "FLOP/s" : "B/s"}};
    out["problems"].push_back(record);
    if (progress) {
      progress(fmt::format(
          "[{}/{}] {:<8} {:<40} {}", i + 1, problems.size(), status_name(r.status),
          resolved.str().substr(0, 40),
          usable ? format_si(rate, p.ceiling == "compute" ? "FLOP/s" : "B/s").c_str() : r.reason));
    }
    if (!usable) continue;
    json* slot = p.ceiling == "compute" ? &out["compute"][p.dtype] : &out[p.ceiling];
    if (slot->is_null() ||
        (*slot)[p.ceiling == "compute" ? "flops" : "bytes_per_s"].get<double>() < rate) {
      std::string basis = "best repetition median of " + resolved.str();
      *slot = p.ceiling == "compute"
                  ? json{{"flops", rate}, {"source", "measured"}, {"basis", basis}}
                  : json{{"bytes_per_s", rate}, {"source", "measured"}, {"basis", basis}};
    }
  }
  // Set the measured figures beside the theoretical ones.
  for (auto& [dtype, entry] : out["compute"].items()) {
    if (auto theory = compute_ceiling(device, dtype, threads)) {
      entry["theoretical"] = theory->value;
      entry["pct_of_theoretical"] = 100 * entry["flops"].get<double>() / theory->value;
    }
  }
  if (out["bandwidth"].is_object()) {
    if (auto theory = bandwidth_ceiling(device)) {
      out["bandwidth"]["theoretical"] = theory->value;
      out["bandwidth"]["pct_of_theoretical"] =
          100 * out["bandwidth"]["bytes_per_s"].get<double>() / theory->value;
    }
  }
  write_file(path, out.dump(1) + "\n", WriteOptions{0644, true, "the ceilings cache"});
  out["cache_file"] = path;
  return out;
}

}  // namespace dlbench
