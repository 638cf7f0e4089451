// Reporters: render a results document as a console table, JSON, CSV or Markdown. They read
// only the document (never live state), so `dlbench show` prints what `dlbench run` printed.
#pragma once

#include <string>
#include <vector>

#include "core/result.h"

namespace dlbench {

/// The output formats `--format` accepts.
const std::vector<std::string>& report_formats();

/// Renders the document in `format` ("table", "json", "csv", "md"); throws Error otherwise.
std::string render(const ResultsDocument& document, const std::string& format);

/// One short progress line for a finished problem (printed to stderr while a suite runs).
std::string progress_line(const Result& result, size_t index, size_t total);

/// The headline figure of a result: FLOP/s where FLOPs are counted, else B/s, else throughput.
std::string headline(const Result& result);

}  // namespace dlbench
