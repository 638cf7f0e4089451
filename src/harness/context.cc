#include "harness/context.h"

#include "analysis/ceilings.h"
#include "core/system_info.h"

namespace dlbench {

nlohmann::json collect_context() {
  nlohmann::json context = machine_context();
  context["ceilings"] = theoretical_ceilings_json();
  return context;
}

}  // namespace dlbench
