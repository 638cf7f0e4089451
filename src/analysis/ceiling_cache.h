// The measured-ceilings cache's life cycle: when a cached measurement must be measured again
// (stale or provisional ceilings), and marking ceilings stale when a figure beats them
// (docs/metrics.md, "Ceiling sanity"). Implemented in ceilings.cc beside the cache's reader.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace dlbench {

/// Whether a cached measurement must be measured again: it is missing, one of its ceilings is
/// stale (a later figure beat it by more than the sanity margin), or it is provisional (measured
/// by `peak --quick`) and `full` rules are wanted.
bool measured_ceilings_need_measuring(const nlohmann::json& cache, bool full);

/// Marks the measured ceilings named in `stale_entries` (a result's run.stale_ceilings:
/// {device, threads, ceiling: compute|bandwidth, dtype?}) stale in their cache, with `why`, so
/// no run uses them and the next `dlbench peak` (or measuring run) measures them again. The
/// cache is rewritten atomically under its lock. Returns how many entries were newly marked.
int mark_measured_ceilings_stale(const nlohmann::json& stale_entries, const std::string& why);

}  // namespace dlbench
