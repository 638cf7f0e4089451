// Hardware ceilings: the compute and bandwidth limits that achieved figures are compared with.
// This file derives the theoretical ones and reads the measured ones (`dlbench peak`) from their
// cache.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "core/ceiling.h"
#include "core/system_info.h"

namespace dlbench {

/// Peak floating-point operations per cycle of one CPU core for `dtype`, from the CPU's
/// vector extensions. nullopt when the dtype has no known rate on this CPU.
struct CpuRate {
  double flops_per_cycle = 0;
  std::string basis;
};
std::optional<CpuRate> cpu_flops_per_cycle(const CpuInfo& cpu, const std::string& dtype);

/// Peak operations per clock of one GPU multiprocessor for `dtype` (dense tensor-core rate where
/// the dtype uses tensor cores), by compute capability; nullopt when unknown.
std::optional<double> gpu_flops_per_clock_per_sm(int cc_major, int cc_minor,
                                                 const std::string& dtype);

/// The compute ceiling for a dtype on a device ("cpu", "cuda:N") when `threads` CPU threads
/// are used (CPU peaks scale with the cores in use).
std::optional<Ceiling> compute_ceiling(const std::string& device, const std::string& dtype,
                                       int threads);
/// The memory bandwidth ceiling of a device; the CPU has no derivable one (DIMM layout unknown).
std::optional<Ceiling> bandwidth_ceiling(const std::string& device);

/// The measured ceilings (`dlbench peak`) live in a per-machine cache: $DLBENCH_CACHE_DIR, else
/// $XDG_CACHE_HOME/dlbench, else ~/.cache/dlbench. The file name carries the device, the thread
/// count (CPU ceilings scale with threads) and a fingerprint of the machine and libraries, so a
/// changed machine or LibTorch never reuses old figures.
std::string measured_ceilings_path(const std::string& device, int threads);
/// The cached measurement for a device (the "devices" entry layout of docs/result-schema.md:
/// {"threads", "compute": {dtype: {"flops", "source", "basis"}}, "bandwidth": {...}}), or null
/// when there is none. A cache that cannot be read or breaks that layout is also null, with one
/// warning on stderr (per file and process) that names the file.
nlohmann::json load_measured_ceilings(const std::string& device, int threads);
/// What is wrong with `cache` as a measured-ceilings cache ("'compute' is missing or not an
/// object", ...); "" when every field dlbench reads has the right type.
std::string measured_ceilings_problem(const nlohmann::json& cache);
/// A measured compute ceiling for a dtype from the cache; nullopt when not measured.
std::optional<Ceiling> measured_compute_ceiling(const std::string& device, const std::string& dtype,
                                                int threads);
/// The measured memory bandwidth ceiling (STREAM triad) from the cache.
std::optional<Ceiling> measured_bandwidth_ceiling(const std::string& device, int threads);

/// Every theoretical ceiling of this machine, for the context block.
nlohmann::json theoretical_ceilings_json();

}  // namespace dlbench
