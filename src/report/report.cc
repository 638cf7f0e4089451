#include "report/report.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/strings.h"

namespace dlbench {

using nlohmann::json;

namespace {

const Metric* find_metric(const Result& r, const std::string& name) {
  auto it = r.metrics.find(name);
  return it == r.metrics.end() ? nullptr : &it->second;
}

std::string median_step(const Result& r) {
  const Metric* m = find_metric(r, r.metrics.count("device_time") ? "device_time" : "step_time");
  return m ? format_seconds(m->value) : "-";
}

std::string noise_text(const Result& r) {
  const Metric* m = find_metric(r, "noise");
  if (!m) return "-";
  return strprintf("%.1f%%", m->value) + (r.noisy ? "!" : "");
}

std::string throughput_text(const Result& r) {
  const Metric* m = find_metric(r, "throughput");
  return m ? format_si(m->value, m->unit) : "-";
}

std::string peak_text(const Result& r) {
  std::string primary = r.work.primary_metric();
  const Metric* m = find_metric(r, primary == "flops"       ? "pct_peak_compute"
                                   : primary == "bandwidth" ? "pct_peak_bandwidth"
                                                            : "");
  return m ? strprintf("%.1f%%", m->value) : "-";
}

std::string memory_text(const Result& r) {
  const Metric* m = find_metric(r, "device_peak_memory");
  if (!m) m = find_metric(r, "host_peak_rss");
  return m ? format_bytes(m->value) : "-";
}

/// Pads to width (left-aligned unless `right`).
std::string pad(const std::string& text, size_t width, bool right = false) {
  if (text.size() >= width) return text;
  std::string spaces(width - text.size(), ' ');
  return right ? spaces + text : text + spaces;
}

std::string context_line(const ResultsDocument& doc) {
  const json& c = doc.context;
  std::vector<std::string> parts;
  auto get = [&](const json& j, const char* key) -> std::string {
    return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
  };
  if (c.contains("host")) parts.push_back(get(c["host"], "hostname"));
  if (c.contains("cpu")) {
    parts.push_back(get(c["cpu"], "model") + " (" +
                    std::to_string(c["cpu"].value("physical_cores", 0)) + " cores)");
  }
  if (c.contains("cuda") && c["cuda"].contains("devices")) {
    for (const auto& gpu : c["cuda"]["devices"]) parts.push_back(get(gpu, "name"));
  }
  if (c.contains("libraries")) {
    const json& l = c["libraries"];
    if (l.contains("libtorch")) parts.push_back("LibTorch " + get(l["libtorch"], "version"));
    if (l.contains("blas")) parts.push_back("BLAS " + get(l["blas"], "name"));
  }
  if (c.contains("timestamp")) parts.push_back(get(c, "timestamp"));
  parts.erase(std::remove(parts.begin(), parts.end(), std::string()), parts.end());
  return join(parts, " | ");
}

std::string render_table(const ResultsDocument& doc) {
  const std::vector<std::string> headers = {"#",          "workload", "status",
                                            "step (med)", "noise",    "throughput",
                                            "achieved",   "% peak",   "peak mem"};
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < doc.results.size(); ++i) {
    const Result& r = doc.results[i];
    rows.push_back({std::to_string(i + 1), r.workload, status_name(r.status), median_step(r),
                    noise_text(r), throughput_text(r), headline(r), peak_text(r), memory_text(r)});
  }
  std::vector<size_t> widths(headers.size());
  for (size_t c = 0; c < headers.size(); ++c) {
    widths[c] = headers[c].size();
    for (const auto& row : rows) widths[c] = std::max(widths[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < cells.size(); ++c) {
      bool numeric = c == 0 || c >= 3;
      out += (c ? "  " : "") + pad(cells[c], widths[c], numeric);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::ostringstream out;
  std::string context = context_line(doc);
  if (!context.empty()) out << context << "\n\n";
  out << line(headers);
  std::string indent(widths[0] + 2, ' ');
  for (size_t i = 0; i < rows.size(); ++i) {
    const Result& r = doc.results[i];
    out << line(rows[i]);
    out << indent << "repro: " << r.problem << "\n";
    if (!r.reason.empty()) out << indent << "reason: " << r.reason << "\n";
    for (const auto& note : r.notes) out << indent << "note: " << note << "\n";
  }
  size_t passed = 0, failed = 0, skipped = 0, invalid = 0;
  for (const auto& r : doc.results) {
    passed += r.status == Status::kPassed;
    failed += r.status == Status::kFailed;
    skipped += r.status == Status::kSkipped;
    invalid += r.status == Status::kInvalid;
  }
  out << "\n"
      << strprintf("%zu passed, %zu failed, %zu skipped, %zu invalid", passed, failed, skipped,
                   invalid)
      << "\n";
  return out.str();
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string number_field(const Result& r, const std::string& metric, const char* stat = nullptr) {
  const Metric* m = find_metric(r, metric);
  if (!m) return "";
  if (stat && m->stats) {
    const Summary& s = *m->stats;
    std::string which = stat;
    double v = which == "p90" ? s.p90 : which == "p99" ? s.p99 : which == "cv" ? s.cv : s.median;
    return format_number(v);
  }
  return std::isfinite(m->value) ? format_number(m->value) : "";
}

std::string render_csv(const ResultsDocument& doc) {
  std::ostringstream out;
  out << "problem,workload,status,reason,noisy,step_time_median_s,step_time_p90_s,"
         "step_time_p99_s,step_time_cv,noise_pct,device_time_median_s,throughput,throughput_unit,"
         "flops_per_s,bandwidth_bytes_per_s,pct_peak_compute,pct_peak_bandwidth,"
         "host_peak_rss_bytes,device_peak_memory_bytes,check,check_error\n";
  for (const auto& r : doc.results) {
    const Metric* throughput = find_metric(r, "throughput");
    std::string check = r.check.status == CheckOutcome::Status::kPassed   ? "passed"
                        : r.check.status == CheckOutcome::Status::kFailed ? "failed"
                                                                          : "";
    std::vector<std::string> fields = {
        csv_field(r.problem),
        csv_field(r.workload),
        status_name(r.status),
        csv_field(r.reason),
        r.noisy ? "true" : "false",
        number_field(r, "step_time"),
        number_field(r, "step_time", "p90"),
        number_field(r, "step_time", "p99"),
        number_field(r, "step_time", "cv"),
        number_field(r, "noise"),
        number_field(r, "device_time"),
        number_field(r, "throughput"),
        throughput ? csv_field(throughput->unit) : "",
        number_field(r, "flops"),
        number_field(r, "bandwidth"),
        number_field(r, "pct_peak_compute"),
        number_field(r, "pct_peak_bandwidth"),
        number_field(r, "host_peak_rss"),
        number_field(r, "device_peak_memory"),
        check,
        r.check.status == CheckOutcome::Status::kNotApplicable ? "" : format_number(r.check.error)};
    out << join(fields, ",") << "\n";
  }
  return out.str();
}

std::string md_cell(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

std::string render_markdown(const ResultsDocument& doc) {
  std::ostringstream out;
  std::string context = context_line(doc);
  if (!context.empty()) out << "_" << md_cell(context) << "_\n\n";
  out << "| # | problem | status | step (med) | noise | throughput | achieved | % peak | peak mem "
         "|\n"
      << "|--:|---|---|--:|--:|--:|--:|--:|--:|\n";
  for (size_t i = 0; i < doc.results.size(); ++i) {
    const Result& r = doc.results[i];
    std::string status = status_name(r.status);
    if (!r.reason.empty()) status += " (" + r.reason + ")";
    out << "| " << i + 1 << " | `" << md_cell(r.problem) << "` | " << md_cell(status) << " | "
        << median_step(r) << " | " << noise_text(r) << " | " << throughput_text(r) << " | "
        << headline(r) << " | " << peak_text(r) << " | " << memory_text(r) << " |\n";
  }
  return out.str();
}

}  // namespace

const std::vector<std::string>& report_formats() {
  static const std::vector<std::string> formats = {"table", "json", "csv", "md"};
  return formats;
}

std::string headline(const Result& r) {
  std::string primary = r.work.primary_metric();
  if (primary == "flops") {
    if (const Metric* m = find_metric(r, "flops")) return format_si(m->value, "FLOP/s");
  }
  if (primary == "bandwidth") {
    if (const Metric* m = find_metric(r, "bandwidth")) return format_si(m->value, "B/s");
  }
  return "-";
}

std::string render(const ResultsDocument& document, const std::string& format) {
  if (format == "table") return render_table(document);
  if (format == "json") return document.to_json().dump(1) + "\n";
  if (format == "csv") return render_csv(document);
  if (format == "md") return render_markdown(document);
  throw Error("unknown format '" + format + "' (valid: " + join(report_formats(), ", ") + ")");
}

std::string progress_line(const Result& r, size_t index, size_t total) {
  std::string line = strprintf("[%zu/%zu] %-8s %s", index, total, status_name(r.status).c_str(),
                               r.problem.c_str());
  if (r.status == Status::kPassed) {
    line += "  " + median_step(r) + "  " + headline(r);
    std::string peak = peak_text(r);
    if (peak != "-") line += " (" + peak + " of peak)";
  } else if (!r.reason.empty()) {
    line += "  -- " + r.reason;
  }
  return line;
}

}  // namespace dlbench
