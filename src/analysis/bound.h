// Bound verdicts: which hardware limit explains a problem's step time.
#pragma once

#include <optional>
#include <string>

#include "core/ceilings.h"
#include "core/result.h"
#include "core/workload.h"

namespace dlbench {

/// A ceiling explains the step time when the work it bounds would take at least this share of
/// the measured time at the ceiling's rate (docs/metrics.md, "Bound verdict").
constexpr double kBoundShare = 0.5;

/// The roofline verdict for `work` done in `seconds`:
///  - compute share = FLOPs / (compute ceiling x time), memory share = bytes / (bandwidth x time);
///  - "compute" or "memory": the larger share, when it reaches kBoundShare;
///  - "latency": both ceilings known and neither share reaches it (launch/latency,
///    synchronisation, or a kernel far from either limit);
///  - "unknown": a ceiling is missing and the known one does not explain the time.
/// nullopt when no ceiling applies (no FLOPs and no bytes counted, or no ceiling known).
std::optional<Bound> classify_bound(const WorkCounts& work, double seconds,
                                    const std::optional<Ceiling>& compute,
                                    const std::optional<Ceiling>& bandwidth);

}  // namespace dlbench
