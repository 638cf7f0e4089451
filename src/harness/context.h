// The context block of a results file: the machine (core/system_info.h) and its theoretical
// ceilings (analysis/ceilings.h).
#pragma once

#include <nlohmann/json.hpp>

namespace dlbench {

/// The full context block of a results file.
nlohmann::json collect_context();

}  // namespace dlbench
