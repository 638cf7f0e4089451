#include "core/run_mode.h"

#include "core/error.h"
#include "core/strings.h"

namespace dlbench {

namespace {

constexpr std::pair<RunMode, const char*> kModes[] = {
    {RunMode::kTrain, "train"}, {RunMode::kInfer, "infer"}, {RunMode::kQuality, "quality"}};

}  // namespace

const char* mode_name(RunMode mode) {
  for (const auto& [value, name] : kModes) {
    if (value == mode) return name;
  }
  throw Error("unknown run mode value " + std::to_string(static_cast<int>(mode)));
}

std::optional<RunMode> parse_run_mode(const std::string& name) {
  for (const auto& [value, mode_text] : kModes) {
    if (name == mode_text) return value;
  }
  return std::nullopt;
}

std::optional<RunMode> run_mode_of(const Problem& problem) {
  auto it = problem.params.find("mode");
  if (it == problem.params.end()) return std::nullopt;
  if (std::optional<RunMode> mode = parse_run_mode(it->second)) return mode;
  throw Error("unknown mode " + single_quoted(it->second) + " (train, infer, quality)");
}

bool is_quality_run(const Problem& problem) {
  auto it = problem.params.find("mode");
  return it != problem.params.end() && parse_run_mode(it->second) == RunMode::kQuality;
}

}  // namespace dlbench
