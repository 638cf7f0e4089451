// Bound verdicts: which hardware limit explains a problem's step time.
#pragma once

#include <optional>
#include <string>

#include "analysis/ceilings.h"
#include "core/result.h"
#include "core/workload.h"

namespace dlbench {

/// A ceiling explains the step time when the work it bounds would take at least this share of
/// the measured time at the ceiling's rate (docs/metrics.md, "Bound verdict").
constexpr double kBoundShare = 0.5;

/// The dispatch floor of a step: the least time its operator calls take on this device whatever
/// they compute (calls x the measured cost of one trivial call), and how it was found.
struct DispatchFloor {
  double seconds_per_call = 0;  ///< a trivial operator call, measured on the device
  double calls = 1;             ///< operator calls per step (WorkCounts::calls, at least 1)
  double seconds() const { return seconds_per_call * calls; }
};

/// The roofline verdict for `work` done in `seconds`:
///  - compute share = FLOPs / (compute ceiling x time), memory share = bytes / (bandwidth x time);
///  - "compute" or "memory": the larger share, when it reaches kBoundShare;
///  - "latency": only on evidence: the dispatch floor is at least kBoundShare of the step (the
///    step is about as short as its calls can be, whatever they compute);
///  - "neither": both ceilings known, neither share reaches kBoundShare and the step is well
///    above its dispatch floor (a kernel far from both limits, or work the counts miss);
///  - "unknown": a ceiling is missing, or only part of the work is counted, and nothing above
///    explains the time.
/// nullopt when no ceiling applies (no FLOPs and no bytes counted, or no ceiling known).
std::optional<Bound> classify_bound(const WorkCounts& work, double seconds,
                                    const std::optional<Ceiling>& compute,
                                    const std::optional<Ceiling>& bandwidth,
                                    const std::optional<DispatchFloor>& floor = std::nullopt);

}  // namespace dlbench
