#include "report/scaling.h"

#include <fmt/core.h>

#include <cmath>
#include <optional>

#include "core/strings.h"

namespace dlbench {

namespace {

std::optional<double> finite_metric(const Result& result, const char* name) {
  const Metric* metric = find_metric(result, name);
  if (!metric || !std::isfinite(metric->value)) return std::nullopt;
  return metric->value;
}

std::string percent_or_dash(const Result& result, const char* name) {
  std::optional<double> value = finite_metric(result, name);
  return value ? fmt::format("{:.1f}%", *value) : std::string("-");
}

constexpr const char* kRow = "  {:<6} {:<10} {:>16} {:>11} {:>11} {:>13}  {}\n";

}  // namespace

std::string scaling_table(const std::vector<int>& counts,
                          const std::vector<ResultsDocument>& documents, bool strong) {
  std::string out = fmt::format(
      "scaling ({}): efficiency = throughput with N ranks / (N x per-rank throughput with {})\n",
      strong ? "strong: a fixed global batch, batch/N per rank"
             : "weak: a fixed batch per rank, N x batch in all",
      counts.front());
  out += fmt::format(kRow, "ranks", "status", "throughput", "efficiency", "comm share",
                     "exposed comm", "problem");
  size_t problems = documents.empty() ? 0 : documents.front().results.size();
  for (size_t i = 0; i < problems; ++i) {
    std::optional<double> per_rank_base;
    for (size_t c = 0; c < counts.size() && c < documents.size(); ++c) {
      if (i >= documents[c].results.size()) continue;
      const Result& r = documents[c].results[i];
      std::optional<double> throughput = finite_metric(r, "throughput");
      if (c == 0 && throughput) per_rank_base = *throughput / counts[0];
      std::string efficiency =
          per_rank_base && throughput && *per_rank_base > 0
              ? fmt::format("{:.1f}%", 100 * *throughput / (counts[c] * *per_rank_base))
              : std::string("-");
      out += fmt::format(kRow, counts[c], status_name(r.status),
                         throughput ? format_si(*throughput, r.metrics.at("throughput").unit) : "-",
                         efficiency, percent_or_dash(r, "comm_share"),
                         percent_or_dash(r, "exposed_comm_share"), r.problem);
    }
  }
  return out;
}

}  // namespace dlbench
