#include "report/report.h"

#include <fmt/core.h>
#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>

#include "core/error.h"
#include "core/strings.h"

namespace dlbench {

using nlohmann::json;

namespace {

// Saved results are read back from files a user may have edited: every optional field is read
// with the getters below, which fall back when a field is absent or of another type.

/// object[key] when it is a number, else `fallback`.
double number_at(const json& object, const char* key, double fallback = 0) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  return it != object.end() && it->is_number() ? it->get<double>() : fallback;
}

/// object[key] when it is a string, else `fallback`.
std::string text_at(const json& object, const char* key, const std::string& fallback = "") {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

/// object[key] when present, else null.
const json& field_at(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it != object.end() ? *it : kNull;
}

std::string median_step(const Result& r) {
  const Metric* m = find_metric(r, r.metrics.count("device_time") ? "device_time" : "step_time");
  return m ? format_seconds(m->value) : "-";
}

std::string noise_text(const Result& r) {
  const Metric* m = find_metric(r, "noise");
  std::string text = m ? fmt::format("{:.1f}%", m->value) + (r.noisy ? "!" : "") : "-";
  // A contended result is slower than the machine alone, however steady it was.
  return r.contended ? text + " contended" : text;
}

std::string throughput_text(const Result& r) {
  const Metric* m = find_metric(r, "throughput");
  if (!m) m = find_metric(r, "training_throughput");  // quality runs
  return m ? format_si(m->value, m->unit) : "-";
}

/// True when `holder` (a record's `run`, or a breakdown part) says a ceiling sanity check failed:
/// its figure then gets a "?" (stale ceiling, in cache; see the notes or the part's problem).
bool failed_ceiling_sanity(const json& holder) {
  return holder.contains("ceiling_sanity") && !holder["ceiling_sanity"].empty();
}

std::string peak_text(const Result& r) {
  std::string primary = r.work.primary_metric();
  const Metric* m = find_metric(r, primary == "flops"       ? "pct_peak_compute"
                                   : primary == "bandwidth" ? "pct_peak_bandwidth"
                                                            : "");
  // Throughput-judged results (whole models) still show how much of the compute ceiling their
  // counted FLOPs reach.
  if (!m && primary == "throughput") m = find_metric(r, "pct_peak_compute");
  if (!m) return "-";
  return fmt::format("{:.1f}%", m->value) + (failed_ceiling_sanity(r.run) ? "?" : "");
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

/// Lays out rows under headers with two spaces between columns; columns listed in `right`
/// (numbers) are right-aligned. Rows may be followed by free-form lines (`after[i]`).
std::string text_table(const std::vector<std::string>& headers,
                       const std::vector<std::vector<std::string>>& rows,
                       const std::vector<bool>& right,
                       const std::vector<std::vector<std::string>>& after = {}) {
  std::vector<size_t> widths(headers.size());
  for (size_t c = 0; c < headers.size(); ++c) {
    widths[c] = headers[c].size();
    for (const auto& row : rows) widths[c] = std::max(widths[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < cells.size(); ++c) {
      out += (c ? "  " : "") + pad(cells[c], widths[c], right[c]);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(headers);
  std::string indent(widths[0] + 2, ' ');
  for (size_t i = 0; i < rows.size(); ++i) {
    out += line(rows[i]);
    if (i < after.size()) {
      for (const auto& extra : after[i]) out += indent + extra + "\n";
    }
  }
  return out;
}

/// One line per probe (run.probes): its latency percentiles, throughput and share of the step.
std::vector<std::string> probe_lines(const Result& r) {
  std::vector<std::string> lines;
  auto probes = r.run.find("probes");
  if (probes == r.run.end() || !probes->is_array()) return lines;
  for (const json& probe : *probes) {
    std::string name = text_at(probe, "name");
    const Metric* time = find_metric(r, name + "_time");
    if (!time || !time->stats) continue;
    std::string line =
        fmt::format("{}: p50 {}, p90 {}, p99 {}", name, format_seconds(time->stats->p50),
                    format_seconds(time->stats->p90), format_seconds(time->stats->p99));
    if (const Metric* t = find_metric(r, name + "_throughput")) {
      line += ", " + format_si(t->value, t->unit);
    }
    if (const Metric* share = find_metric(r, name + "_share")) {
      line += fmt::format(", {:.1f}% of the step", share->value);
    }
    line += " (" + text_at(probe, "description") + ")";
    lines.push_back(line);
  }
  return lines;
}

/// A quality value in its unit ("98.21%" or "0.7812").
std::string quality_text(double value, const std::string& unit) {
  return unit == "%" ? fmt::format("{:.2f}%", value) : fmt::format("{:.4g}{}", value, unit);
}

/// Lines of a quality run (run.quality, docs/quality.md): the outcome against the target, the
/// speed and Valid FLOPS, the input pipeline, the quality curve of the first run and the log.
std::vector<std::string> quality_lines(const Result& r) {
  std::vector<std::string> lines;
  const json& q = field_at(r.run, "quality");
  if (!q.is_object()) return lines;
  const std::string unit = text_at(q, "unit");
  const std::string metric = text_at(q, "metric");
  const json& higher_field = field_at(q, "higher_is_better");
  const bool higher = higher_field.is_boolean() ? higher_field.get<bool>() : true;
  const Metric* quality = find_metric(r, "quality");
  std::string line = fmt::format("quality: {} {} (target {} {})", metric,
                                 quality ? quality_text(quality->value, unit).c_str() : "-",
                                 higher ? ">=" : "<=", quality_text(number_at(q, "target"), unit));
  if (const Metric* ttq = find_metric(r, "time_to_quality")) {
    line += " reached in " + format_seconds(ttq->value);
    if (const Metric* e = find_metric(r, "epochs_to_quality")) {
      line += fmt::format(", {:.2f} epochs", e->value);
    }
    if (const Metric* n = find_metric(r, "samples_to_quality")) {
      line += ", " + format_si(n->value, "samples");
    }
  }
  double runs = number_at(q, "runs", 1);
  if (runs > 1) line += fmt::format(" ({:.0f} runs, {})", runs, text_at(q, "combined_as"));
  lines.push_back(line + "; task: " + text_at(q, "task") + " on " + text_at(q, "dataset"));
  std::string speed = "training:";
  if (const Metric* t = find_metric(r, "training_throughput")) {
    speed += " " + format_si(t->value, t->unit);
  }
  if (const Metric* f = find_metric(r, "achieved_flops"))
    speed += ", " + format_si(f->value, "FLOP/s");
  if (const Metric* v = find_metric(r, "valid_flops")) {
    speed += fmt::format(", Valid FLOPS {} (n={:g})", format_si(v->value, "FLOP/s"),
                         number_at(q, "valid_flops_n", 5.0));
  }
  if (const Metric* e = find_metric(r, "eval_share")) {
    speed += fmt::format("; evaluation {:.1f}% of the run", e->value);
  }
  lines.push_back(speed);
  const json& runs_json = field_at(r.run, "quality_runs");
  if (runs_json.is_array() && !runs_json.empty()) {
    std::string curve = "curve (epoch: " + metric + "):";
    const json& points = field_at(runs_json[0], "curve");
    for (const json& point : points.is_array() ? points : json::array()) {
      const json& value = field_at(point, "quality");
      curve +=
          fmt::format(" {:.2f}: {}", number_at(point, "epoch"),
                      value.is_number() ? quality_text(value.get<double>(), unit).c_str() : "-");
    }
    lines.push_back(curve);
  }
  if (field_at(r.run, "mllog").is_string()) lines.push_back("mllog: " + text_at(r.run, "mllog"));
  return lines;
}

/// The input pipeline's line (quality runs and io/...): stall share, loader throughput and
/// accelerator utilisation.
std::vector<std::string> input_lines(const Result& r) {
  const Metric* stall = find_metric(r, "input_stall_share");
  if (!stall) return {};
  std::string line = fmt::format("input: stall {:.1f}% of the time", stall->value);
  if (const Metric* l = find_metric(r, "loader_throughput")) {
    line += ", loader could sustain " + format_si(l->value, l->unit);
  }
  if (const Metric* au = find_metric(r, "accelerator_utilization")) {
    line += fmt::format(", accelerator utilisation {:.1f}%", au->value);
  }
  return {line};
}

/// The communication line of a distributed result: its ranks, and for data-parallel training
/// the share of the step with an allreduce in flight and the exposed share.
std::vector<std::string> comm_lines(const Result& r) {
  std::vector<std::string> parts;
  if (!r.ranks.empty()) parts.push_back(fmt::format("{} ranks", r.ranks.size()));
  if (const Metric* share = find_metric(r, "comm_share")) {
    parts.push_back(fmt::format("gradient allreduce in flight {:.1f}% of the step", share->value));
    if (const Metric* exposed = find_metric(r, "exposed_comm_share")) {
      parts.push_back(fmt::format("exposed {:.1f}%", exposed->value));
    }
    if (const Metric* compute = find_metric(r, "compute_time")) {
      parts.push_back("compute " + format_seconds(compute->value));
    }
  }
  if (const Metric* algbw = find_metric(r, "algbw")) {
    parts.push_back("algbw " + format_si(algbw->value, "B/s"));
  }
  if (parts.empty()) return {};
  return {"comm: " + join(parts, ", ")};
}

std::string bound_text(const Result& r) { return r.bound ? verdict_name(r.bound->verdict) : "-"; }

std::string json_number_text(const json& j, const std::function<std::string(double)>& format) {
  return j.is_number() ? format(j.get<double>()) : "-";
}

/// The per-part table of a composite result (layer/...), sorted by share of the time.
std::string render_breakdown(const Result& r, size_t index) {
  std::vector<json> parts(r.breakdown.begin(), r.breakdown.end());
  std::stable_sort(parts.begin(), parts.end(), [](const json& a, const json& b) {
    return number_at(a, "share") > number_at(b, "share");
  });
  std::vector<std::vector<std::string>> rows, after;
  double cumulative = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const json& p = parts[i];
    cumulative += number_at(p, "share");
    bool flops = text_at(p, "primary_metric") == "flops";
    std::string achieved = flops ? json_number_text(field_at(p, "flops"),
                                                    [](double v) { return format_si(v, "FLOP/s"); })
                                 : json_number_text(field_at(p, "bandwidth"),
                                                    [](double v) { return format_si(v, "B/s"); });
    const bool doubtful = failed_ceiling_sanity(p);
    std::string peak = json_number_text(
        field_at(p, flops ? "pct_peak_compute" : "pct_peak_bandwidth"),
        [&](double v) { return fmt::format("{:.1f}%", v) + (doubtful ? "?" : ""); });
    std::string status = text_at(p, "status");
    rows.push_back({std::to_string(i + 1), text_at(p, "name"), text_at(p, "kind"),
                    text_at(p, "pass"), format_number(number_at(p, "count")),
                    status == "PASSED" ? format_seconds(number_at(p, "time_s")) : status,
                    format_seconds(number_at(p, "total_time_s")),
                    fmt::format("{:.1f}%", 100 * number_at(p, "share")),
                    fmt::format("{:.1f}%", 100 * cumulative), achieved, peak,
                    text_at(field_at(p, "bound"), "verdict", "-")});
    after.push_back({"repro: " + text_at(p, "problem")});
  }
  std::string out = fmt::format("\nbreakdown of #{} {} ({} parts, by share of time):\n", index,
                                r.workload, parts.size());
  out += text_table(
      {"rank", "layer", "kind", "pass", "count", "time/call", "total", "share", "cum.", "achieved",
       "% peak", "bound"},
      rows, {true, false, false, false, true, true, true, true, true, true, true, false}, after);
  return out;
}

std::string context_line(const ResultsDocument& doc) {
  const json& c = doc.context;
  std::vector<std::string> parts;
  parts.push_back(text_at(field_at(c, "host"), "hostname"));
  const json& cpu = field_at(c, "cpu");
  if (cpu.is_object()) {
    parts.push_back(text_at(cpu, "model") + " (" + format_number(number_at(cpu, "physical_cores")) +
                    " cores)");
  }
  const json& gpus = field_at(field_at(c, "cuda"), "devices");
  if (gpus.is_array()) {
    for (const auto& gpu : gpus) parts.push_back(text_at(gpu, "name"));
  }
  const json& l = field_at(c, "libraries");
  if (l.contains("libtorch")) parts.push_back("LibTorch " + text_at(l["libtorch"], "version"));
  if (l.contains("blas")) parts.push_back("BLAS " + text_at(l["blas"], "name"));
  parts.push_back(text_at(c, "timestamp"));
  parts.erase(std::remove(parts.begin(), parts.end(), std::string()), parts.end());
  return join(parts, " | ");
}

std::string render_table(const ResultsDocument& doc) {
  const std::vector<std::string> headers = {"#",     "workload",   "status",   "step (med)",
                                            "noise", "throughput", "achieved", "% peak",
                                            "bound", "peak mem"};
  std::vector<std::vector<std::string>> rows, after;
  for (size_t i = 0; i < doc.results.size(); ++i) {
    const Result& r = doc.results[i];
    rows.push_back({std::to_string(i + 1), r.workload, status_name(r.status), median_step(r),
                    noise_text(r), throughput_text(r), headline(r), peak_text(r), bound_text(r),
                    memory_text(r)});
    std::vector<std::string> lines = {"repro: " + r.problem};
    if (!r.reason.empty()) lines.push_back("reason: " + r.reason);
    for (const std::string& line : probe_lines(r)) lines.push_back(line);
    for (const std::string& line : quality_lines(r)) lines.push_back(line);
    for (const std::string& line : input_lines(r)) lines.push_back(line);
    for (const std::string& line : comm_lines(r)) lines.push_back(line);
    if (r.bound && !r.bound->detail.empty()) lines.push_back("bound: " + r.bound->detail);
    for (const auto& note : r.notes) lines.push_back("note: " + note);
    after.push_back(lines);
  }
  std::ostringstream out;
  std::string context = context_line(doc);
  if (!context.empty()) out << context << "\n\n";
  out << text_table(headers, rows, {true, false, false, true, true, true, true, true, false, true},
                    after);
  for (size_t i = 0; i < doc.results.size(); ++i) {
    if (!doc.results[i].breakdown.empty()) out << render_breakdown(doc.results[i], i + 1);
  }
  size_t passed = 0, failed = 0, skipped = 0, invalid = 0;
  for (const auto& r : doc.results) {
    passed += r.status == Status::kPassed;
    failed += r.status == Status::kFailed;
    skipped += r.status == Status::kSkipped;
    invalid += r.status == Status::kInvalid;
  }
  out << "\n"
      << fmt::format("{} passed, {} failed, {} skipped, {} invalid", passed, failed, skipped,
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
         "host_peak_rss_bytes,device_peak_memory_bytes,check,check_error,bound,"
         "pct_theoretical_compute,pct_theoretical_bandwidth,arithmetic_intensity,contended\n";
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
        r.check.status == CheckOutcome::Status::kNotApplicable ? "" : format_number(r.check.error),
        r.bound ? verdict_name(r.bound->verdict) : "",
        number_field(r, "pct_theoretical_compute"),
        number_field(r, "pct_theoretical_bandwidth"),
        number_field(r, "arithmetic_intensity"),
        r.contended ? "true" : "false"};
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
  out << "| # | problem | status | step (med) | noise | throughput | achieved | % peak | bound | "
         "peak mem |\n"
      << "|--:|---|---|--:|--:|--:|--:|--:|---|--:|\n";
  for (size_t i = 0; i < doc.results.size(); ++i) {
    const Result& r = doc.results[i];
    std::string status = status_name(r.status);
    if (!r.reason.empty()) status += " (" + r.reason + ")";
    out << "| " << i + 1 << " | `" << md_cell(r.problem) << "` | " << md_cell(status) << " | "
        << median_step(r) << " | " << noise_text(r) << " | " << throughput_text(r) << " | "
        << headline(r) << " | " << peak_text(r) << " | " << bound_text(r) << " | " << memory_text(r)
        << " |\n";
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
  if (primary == "busbw") {
    if (const Metric* m = find_metric(r, "busbw")) return format_si(m->value, "B/s") + " bus";
  }
  if (primary == "throughput") {
    if (const Metric* m = find_metric(r, "flops")) return format_si(m->value, "FLOP/s");
    if (const Metric* m = find_metric(r, "bandwidth")) return format_si(m->value, "B/s");
    if (const Metric* m = find_metric(r, "achieved_flops")) return format_si(m->value, "FLOP/s");
  }
  return "-";
}

std::string render(const ResultsDocument& document, const std::string& format) {
  try {
    if (format == "table") return render_table(document);
    if (format == "json") return document.to_json().dump(1) + "\n";
    if (format == "csv") return render_csv(document);
    if (format == "md") return render_markdown(document);
  } catch (const json::exception& e) {
    // A field of a saved file that the getters above do not guard.
    throw Error("the results do not match the schema (docs/result-schema.md): " +
                first_line(e.what()));
  }
  throw Error("unknown format " + single_quoted(format) +
              " (valid: " + join(report_formats(), ", ") + ")");
}

std::string progress_line(const Result& r, size_t index, size_t total) {
  std::string line =
      fmt::format("[{}/{}] {:<8} {}", index, total, status_name(r.status), r.problem);
  const Metric* time_to_quality = find_metric(r, "time_to_quality");
  const Metric* quality = find_metric(r, "quality");
  if (r.status == Status::kPassed && time_to_quality && quality) {
    line += fmt::format("  {} {} in {}", r.run["quality"].value("metric", ""),
                        quality_text(quality->value, quality->unit),
                        format_seconds(time_to_quality->value));
    if (r.bound && r.bound->verdict != Verdict::kNone) {
      line += " " + verdict_name(r.bound->verdict) + "-bound";
    }
  } else if (r.status == Status::kPassed) {
    line += "  " + median_step(r) + "  " + headline(r);
    std::string peak = peak_text(r);
    if (peak != "-") line += " (" + peak + " of peak)";
    if (r.bound && r.bound->verdict != Verdict::kNone) {
      line += " " + verdict_name(r.bound->verdict) + "-bound";
    }
    if (r.contended) line += " [contended]";
  } else if (!r.reason.empty()) {
    line += "  -- " + r.reason;
  }
  return line;
}

}  // namespace dlbench
