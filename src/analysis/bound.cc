#include <fmt/core.h>

#include "analysis/bound.h"

#include "core/strings.h"

namespace dlbench {

std::optional<Bound> classify_bound(const WorkCounts& work, double seconds,
                                    const std::optional<Ceiling>& compute,
                                    const std::optional<Ceiling>& bandwidth,
                                    const std::optional<DispatchFloor>& floor) {
  if (!(seconds > 0)) return std::nullopt;
  bool has_compute = work.flops > 0 && compute && compute->value > 0;
  bool has_memory = work.bytes > 0 && bandwidth && bandwidth->value > 0;
  if (!has_compute && !has_memory) return std::nullopt;
  double compute_share = has_compute ? work.flops / (compute->value * seconds) : 0;
  double memory_share = has_memory ? work.bytes / (bandwidth->value * seconds) : 0;

  std::vector<std::string> shares;
  if (has_compute) {
    shares.push_back(fmt::format("compute {:.0f}% of the {} {} ceiling", 100 * compute_share,
                                 compute->source, work.dtype));
  }
  if (has_memory) {
    shares.push_back(fmt::format("memory {:.0f}% of the {} bandwidth ceiling", 100 * memory_share,
                                 bandwidth->source));
  }
  Bound bound;
  bound.detail = join(shares, ", ");
  double best = std::max(compute_share, memory_share);
  if (best >= kBoundShare) {
    bound.verdict = compute_share >= memory_share ? Verdict::kCompute : Verdict::kMemory;
    return bound;
  }
  // Latency needs evidence: the step is near the least time its calls take on this device.
  bool has_floor = floor && floor->seconds_per_call > 0;
  double floor_share = has_floor ? floor->seconds() / seconds : 0;
  std::string floor_text =
      has_floor
          ? fmt::format("; the dispatch floor ({:g} call(s) x {}) is {:.0f}% of the step",
                        floor->calls, format_seconds(floor->seconds_per_call), 100 * floor_share)
          : std::string();
  if (has_floor && floor_share >= kBoundShare) {
    bound.verdict = Verdict::kLatency;
    bound.detail += floor_text + ": the step is about as short as its calls can be";
    return bound;
  }
  // Counted work needs a ceiling on each side before "neither explains it" can be said.
  bool complete = (work.flops <= 0 || has_compute) && (work.bytes <= 0 || has_memory);
  if (work.partial_accounting) {
    bound.verdict = Verdict::kUnknown;
    bound.detail +=
        "; only GEMM-class layers and embedding lookups are counted for this workload (their "
        "FLOPs and operand bytes; normalisation, activations and pooling are not), so a low "
        "share of both ceilings cannot tell memory from latency: see its layers (layer/...) "
        "for the breakdown";
  } else if (complete) {
    bound.verdict = Verdict::kNeither;
    bound.detail =
        fmt::format("neither ceiling ({:.0f}% compute, {:.0f}% memory): ", 100 * compute_share,
                    100 * memory_share) +
        bound.detail + floor_text +
        (has_floor ? ", so it is not launch-bound either: a kernel far from both limits, "
                     "synchronisation, or work the counts miss"
                   : "; no dispatch floor was measured, so launch cost cannot be judged");
  } else {
    bound.verdict = Verdict::kUnknown;
    bound.detail += floor_text + "; the " + (has_compute ? "bandwidth" : "compute") +
                    " ceiling is not known (run `dlbench peak`)";
  }
  return bound;
}

}  // namespace dlbench
