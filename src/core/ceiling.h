// A hardware ceiling as results carry it: a rate and how it was obtained. The tables and the
// measured cache that produce ceilings are in analysis/ceilings.h.
#pragma once

#include <string>

namespace dlbench {

/// One ceiling: a rate (FLOP/s or B/s) and how it was obtained.
struct Ceiling {
  double value = 0;
  std::string source;  ///< "theoretical" (derived) or "measured"
  std::string basis;   ///< the formula with its inputs, so a reader can check it
};

}  // namespace dlbench
