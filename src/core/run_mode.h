// What a whole-model problem does with its model: train it, serve it, or train it to a quality
// target on real data. Prints and parses as the `mode` parameter's values.
#pragma once

#include <optional>
#include <string>

#include "core/problem.h"

namespace dlbench {

/// The `mode` of a model problem.
enum class RunMode { kTrain, kInfer, kQuality };

/// "train", "infer" or "quality".
const char* mode_name(RunMode mode);
/// The mode named `name`; nullopt for any other text.
std::optional<RunMode> parse_run_mode(const std::string& name);
/// The problem's mode; nullopt when it has no `mode` parameter (its workload has no modes).
/// Throws Error when the parameter names no mode.
std::optional<RunMode> run_mode_of(const Problem& problem);
/// True for a time-to-quality problem (mode=quality), which the harness runs its own way.
bool is_quality_run(const Problem& problem);

}  // namespace dlbench
