#include "report/roofline.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/strings.h"

namespace dlbench {

using nlohmann::json;

namespace {

// ---------------------------------------------------------------------------------------------
// Text helpers

/// Escapes the five XML special characters and drops the control characters XML 1.0 forbids.
std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
          out += ' ';
        } else {
          out += c;
        }
    }
  }
  return out;
}

/// Cuts `text` to at most `limit` bytes (never inside a UTF-8 sequence), ending in "...".
std::string truncate(const std::string& text, size_t limit) {
  if (text.size() <= limit) return text;
  size_t cut = limit > 3 ? limit - 3 : 0;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "...";
}

std::string fmt(double value) { return strprintf("%.1f", value); }

std::string json_string(const json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_string()
             ? object[key].get<std::string>()
             : std::string();
}

std::string param(const Result& r, const std::string& key, const std::string& fallback) {
  auto it = r.params.find(key);
  return it == r.params.end() || it->second.empty() ? fallback : it->second;
}

std::string result_device(const Result& r) { return param(r, "device", "cpu"); }

// ---------------------------------------------------------------------------------------------
// Points

/// context["measured_ceilings"][device], read defensively (malformed entries are ignored).
struct MeasuredCeilings {
  bool present = false;
  std::map<std::string, Ceiling> compute;  ///< by dtype
  std::optional<Ceiling> bandwidth;
};

std::optional<Ceiling> ceiling_entry(const json& entry, const char* value_key) {
  if (!entry.is_object() || !entry.contains(value_key) || !entry[value_key].is_number()) {
    return std::nullopt;
  }
  double value = entry[value_key].get<double>();
  if (!std::isfinite(value) || value <= 0) return std::nullopt;
  std::string source = json_string(entry, "source");
  return Ceiling{value, source.empty() ? "measured" : source, json_string(entry, "basis")};
}

MeasuredCeilings measured_ceilings(const json& context, const std::string& device) {
  MeasuredCeilings out;
  if (!context.is_object() || !context.contains("measured_ceilings")) return out;
  const json& all = context["measured_ceilings"];
  if (!all.is_object() || !all.contains(device) || !all[device].is_object()) return out;
  const json& entry = all[device];
  out.present = true;
  if (entry.contains("compute") && entry["compute"].is_object()) {
    for (const auto& [dtype, ceiling] : entry["compute"].items()) {
      if (auto c = ceiling_entry(ceiling, "flops")) out.compute[dtype] = *c;
    }
  }
  if (entry.contains("bandwidth")) out.bandwidth = ceiling_entry(entry["bandwidth"], "bytes_per_s");
  return out;
}

/// Why a result cannot be on any roofline ("" when it can).
std::string unplottable_reason(const Result& r) {
  if (r.status != Status::kPassed) {
    std::string text = "status " + status_name(r.status);
    if (!r.reason.empty()) text += ": " + first_line(r.reason);
    return text;
  }
  if (r.work.flops <= 0 && r.work.bytes <= 0) return "counts neither FLOPs nor bytes";
  if (r.work.flops <= 0) return "no FLOPs counted (bytes only)";
  if (r.work.bytes <= 0) return "no bytes counted (FLOPs only)";
  const Metric* flops = find_metric(r, "flops");
  if (!flops || !std::isfinite(flops->value) || flops->value <= 0) {
    return "no achieved FLOP/s recorded";
  }
  return "";
}

/// The device a chart shows: `requested`, or the device of the first plottable result.
std::string chart_device(const ResultsDocument& document, const std::string& requested) {
  if (!requested.empty()) return requested;
  for (const auto& r : document.results) {
    if (unplottable_reason(r).empty()) return result_device(r);
  }
  return "";
}

}  // namespace

std::vector<RooflinePoint> roofline_points(const ResultsDocument& document,
                                           const std::string& device) {
  std::string shown = chart_device(document, device);
  MeasuredCeilings measured = measured_ceilings(document.context, shown);
  std::vector<RooflinePoint> points;
  for (size_t i = 0; i < document.results.size(); ++i) {
    const Result& r = document.results[i];
    RooflinePoint p;
    p.index = i + 1;
    p.problem = r.problem;
    p.workload = r.workload;
    p.device = result_device(r);
    p.dtype = r.work.dtype;
    if (r.bound) p.verdict = r.bound->verdict;
    if (r.work.flops > 0 && r.work.bytes > 0) p.intensity = r.work.flops / r.work.bytes;
    if (const Metric* m = find_metric(r, "flops"); m && std::isfinite(m->value)) p.flops = m->value;

    p.excluded = unplottable_reason(r);
    if (p.excluded.empty() && p.device != shown) {
      p.excluded = "ran on " + p.device + "; this chart shows " + shown;
    }
    p.plotted = p.excluded.empty();

    // Roofs: the document's measured ceilings for the device win over the result's own.
    auto measured_compute = measured.compute.find(p.dtype);
    if (measured.present && measured_compute != measured.compute.end()) {
      p.compute = measured_compute->second;
    } else if (r.compute_ceiling) {
      p.compute = r.compute_ceiling;
    } else {
      p.compute = r.theoretical_compute_ceiling;
    }
    if (measured.present && measured.bandwidth) {
      p.bandwidth = measured.bandwidth;
    } else if (r.bandwidth_ceiling) {
      p.bandwidth = r.bandwidth_ceiling;
    } else {
      p.bandwidth = r.theoretical_bandwidth_ceiling;
    }
    if (p.compute && p.compute->value <= 0) p.compute.reset();
    if (p.bandwidth && p.bandwidth->value <= 0) p.bandwidth.reset();

    if (p.intensity > 0) {
      double memory_roof = p.bandwidth ? p.intensity * p.bandwidth->value : 0;
      if (p.compute && (!p.bandwidth || p.compute->value <= memory_roof)) {
        p.attainable = p.compute->value;
        p.limit = "compute";
      } else if (p.bandwidth) {
        p.attainable = memory_roof;
        p.limit = "memory";
      }
      if (p.attainable > 0) p.pct_of_roof = 100 * p.flops / p.attainable;
    }
    points.push_back(p);
  }
  return points;
}

namespace {

// ---------------------------------------------------------------------------------------------
// Chart

// Arial/Helvetica first: narrower than DejaVu Sans, the widest common fallback, which the text
// widths below are sized for.
constexpr const char* kFont = "Arial, Helvetica, 'Liberation Sans', 'DejaVu Sans', sans-serif";
constexpr double kLabelFont = 11;  // point and roof labels, table text
constexpr double kMarkerRadius = 5;

struct Box {
  double x0, y0, x1, y1;
  double overlap(const Box& o) const {
    double w = std::min(x1, o.x1) - std::max(x0, o.x0);
    double h = std::min(y1, o.y1) - std::max(y0, o.y0);
    return w > 0 && h > 0 ? w * h : 0;
  }
};

/// Estimated width of `text` at `size` px in a sans font (digits and lower case average ~0.6em).
double text_width(const std::string& text, double size, bool bold = false) {
  return static_cast<double>(text.size()) * size * (bold ? 0.66 : 0.6);
}

/// Box of a single-line text with its baseline at y.
Box text_box(double x, double y, double width, double size, const std::string& anchor) {
  double x0 = anchor == "end" ? x - width : anchor == "middle" ? x - width / 2 : x;
  return {x0, y - size * 0.8, x0 + width, y + size * 0.25};
}

std::string verdict_colour(const std::string& verdict) {
  if (verdict == "compute") return "#1f77b4";
  if (verdict == "memory") return "#e6550d";
  if (verdict == "latency") return "#7b4fb0";
  if (verdict == "neither") return "#2a9d8f";
  return "#8c8c8c";
}

/// "1", "10", "0.01" for FLOP/B decades.
std::string intensity_label(int decade) {
  if (decade >= -3 && decade < 0) return strprintf("%.*f", -decade, std::pow(10.0, decade));
  if (decade >= 0 && decade <= 4) return strprintf("%.0f", std::pow(10.0, decade));
  return strprintf("1e%d", decade);
}

/// "1 G", "10 G", "100 G", "1 T" for FLOP/s decades.
std::string flops_label(int decade) {
  static const char* kPrefixes[] = {"", " k", " M", " G", " T", " P", " E"};
  if (decade < 0 || decade >= 21) return strprintf("1e%d", decade);
  static const char* kMantissa[] = {"1", "10", "100"};
  return std::string(kMantissa[decade % 3]) + kPrefixes[decade / 3];
}

/// One roof to draw: a ceiling, the dtypes it serves and the thread counts of its points.
struct Roof {
  bool compute = true;  ///< compute (horizontal) or bandwidth (slanted)
  Ceiling ceiling;
  std::vector<std::string> dtypes;
  std::set<std::string> threads;
  double x_start = 0, x_end = 0;  ///< in FLOP/B, before clipping
  std::string label;
};

void add_roof(std::vector<Roof>& roofs, bool compute, const std::optional<Ceiling>& ceiling,
              const std::string& dtype, const std::string& threads) {
  if (!ceiling || !std::isfinite(ceiling->value) || ceiling->value <= 0) return;
  for (Roof& roof : roofs) {
    if (roof.compute == compute && roof.ceiling.source == ceiling->source &&
        std::fabs(roof.ceiling.value - ceiling->value) <= 1e-9 * ceiling->value) {
      if (compute && std::find(roof.dtypes.begin(), roof.dtypes.end(), dtype) == roof.dtypes.end())
        roof.dtypes.push_back(dtype);
      roof.threads.insert(threads);
      return;
    }
  }
  Roof roof;
  roof.compute = compute;
  roof.ceiling = *ceiling;
  if (compute) roof.dtypes.push_back(dtype);
  roof.threads.insert(threads);
  roofs.push_back(roof);
}

std::string device_description(const json& context, const std::string& device) {
  if (device == "cpu") {
    const json cpu = context.is_object() ? context.value("cpu", json::object()) : json::object();
    std::string model = json_string(cpu, "model");
    if (model.empty()) return "cpu";
    int cores = cpu.is_object() && cpu.contains("physical_cores") &&
                        cpu["physical_cores"].is_number_integer()
                    ? cpu["physical_cores"].get<int>()
                    : 0;
    return cores > 0 ? model + " (" + std::to_string(cores) + " cores)" : model;
  }
  if (starts_with(device, "cuda")) {
    int wanted = 0;
    auto colon = device.find(':');
    if (colon != std::string::npos) wanted = std::atoi(device.c_str() + colon + 1);
    if (context.is_object() && context.contains("cuda") && context["cuda"].is_object() &&
        context["cuda"].contains("devices") && context["cuda"]["devices"].is_array()) {
      const json& devices = context["cuda"]["devices"];
      for (size_t i = 0; i < devices.size(); ++i) {
        const json& gpu = devices[i];
        int index = gpu.is_object() && gpu.contains("index") && gpu["index"].is_number_integer()
                        ? gpu["index"].get<int>()
                        : static_cast<int>(i);
        if (index == wanted && !json_string(gpu, "name").empty()) {
          return json_string(gpu, "name") + " (" + device + ")";
        }
      }
    }
  }
  return device;
}

/// Accumulates SVG elements.
class Svg {
 public:
  void line(double x0, double y0, double x1, double y1, const std::string& style,
            const std::string& tooltip = "") {
    out_ << "<line x1=\"" << fmt(x0) << "\" y1=\"" << fmt(y0) << "\" x2=\"" << fmt(x1) << "\" y2=\""
         << fmt(y1) << "\" " << style;
    close("line", tooltip);
  }
  void text(double x, double y, const std::string& content, const std::string& attributes) {
    out_ << "<text x=\"" << fmt(x) << "\" y=\"" << fmt(y) << "\" " << attributes << ">"
         << xml_escape(content) << "</text>\n";
  }
  void circle(double x, double y, double r, const std::string& style,
              const std::string& tooltip = "") {
    out_ << "<circle cx=\"" << fmt(x) << "\" cy=\"" << fmt(y) << "\" r=\"" << fmt(r) << "\" "
         << style;
    close("circle", tooltip);
  }
  void raw(const std::string& text) { out_ << text; }
  std::string str() const { return out_.str(); }

 private:
  // Ends an element, with a tooltip (<title> child) when one is given.
  void close(const char* element, const std::string& tooltip) {
    if (tooltip.empty()) {
      out_ << "/>\n";
    } else {
      out_ << "><title>" << xml_escape(tooltip) << "</title></" << element << ">\n";
    }
  }
  std::ostringstream out_;
};

/// The repro string without the parts the chart already states (device) or that rarely matter
/// for reading it (seed).
std::string short_repro(const std::string& problem, const std::string& device) {
  std::vector<std::string> kept;
  for (const auto& token : split_whitespace(problem)) {
    if (token == "device=" + device || starts_with(token, "seed=")) continue;
    kept.push_back(token);
  }
  return join(kept, " ");
}

}  // namespace

std::string roofline_svg(const ResultsDocument& document, const RooflineOptions& options) {
  const std::string source = options.source.empty() ? "the results document" : options.source;
  std::vector<RooflinePoint> points = roofline_points(document, options.device);
  std::vector<const RooflinePoint*> plotted;
  for (const auto& p : points) {
    if (p.plotted) plotted.push_back(&p);
  }
  if (plotted.empty()) {
    std::set<std::string> devices;
    for (const auto& r : document.results) {
      if (unplottable_reason(r).empty()) devices.insert(result_device(r));
    }
    if (!options.device.empty() && !devices.empty()) {
      throw Error("no result in " + source + " on device " + options.device +
                  " has both FLOPs and bytes counted (such results ran on: " +
                  join(std::vector<std::string>(devices.begin(), devices.end()), ", ") + ")");
    }
    throw Error("no result in " + source +
                " has both FLOPs and bytes counted: nothing to place on a roofline");
  }
  const std::string device = plotted.front()->device;

  // Roofs: every distinct ceiling of the plotted points, plus the theoretical ones beside the
  // measured ones.
  std::vector<Roof> roofs;
  for (const RooflinePoint* p : plotted) {
    const Result& r = document.results[p->index - 1];
    std::string threads = param(r, "threads", "");
    add_roof(roofs, true, p->compute, p->dtype, threads);
    add_roof(roofs, false, p->bandwidth, p->dtype, threads);
    add_roof(roofs, true, r.theoretical_compute_ceiling, p->dtype, threads);
    add_roof(roofs, false, r.theoretical_bandwidth_ceiling, p->dtype, threads);
    if (r.compute_ceiling && r.compute_ceiling->source != "measured") {
      add_roof(roofs, true, r.compute_ceiling, p->dtype, threads);
    }
    if (r.bandwidth_ceiling && r.bandwidth_ceiling->source != "measured") {
      add_roof(roofs, false, r.bandwidth_ceiling, p->dtype, threads);
    }
  }
  std::vector<Roof*> compute_roofs, bandwidth_roofs;
  for (Roof& roof : roofs) (roof.compute ? compute_roofs : bandwidth_roofs).push_back(&roof);
  // The bandwidth roof a compute roof meets at its ridge: same source, else the first one.
  auto partner = [&](const Roof& compute) -> const Roof* {
    for (const Roof* b : bandwidth_roofs) {
      if (b->ceiling.source == compute.ceiling.source) return b;
    }
    return bandwidth_roofs.empty() ? nullptr : bandwidth_roofs.front();
  };

  // Axis ranges, in decades: 0.01 .. 1000 FLOP/B at least; FLOP/s from the lowest point to
  // above the highest roof.
  double ai_min = 1e300, ai_max = 0, f_min = 1e300, f_max = 0;
  for (const RooflinePoint* p : plotted) {
    ai_min = std::min(ai_min, p->intensity);
    ai_max = std::max(ai_max, p->intensity);
    f_min = std::min(f_min, p->flops);
    f_max = std::max(f_max, p->flops);
  }
  for (const Roof* c : compute_roofs) {
    f_max = std::max(f_max, c->ceiling.value);
    if (const Roof* b = partner(*c)) {
      double ridge = c->ceiling.value / b->ceiling.value;
      ai_min = std::min(ai_min, ridge);
      ai_max = std::max(ai_max, ridge);
    }
  }
  int xd0 = std::min(-2, static_cast<int>(std::floor(std::log10(ai_min) - 0.05)));
  int xd1 = std::max(3, static_cast<int>(std::ceil(std::log10(ai_max) + 0.05)));
  int yd0 = static_cast<int>(std::floor(std::log10(f_min) - 0.05));
  int yd1 = static_cast<int>(std::ceil(std::log10(f_max) + 0.15));  // room for roof labels
  if (yd1 - yd0 < 2) yd0 = yd1 - 2;

  const double W = std::max(options.width, 720);  // the table needs the room
  const double H = std::max(options.height, 320);
  const double px0 = 78, px1 = W - 24, py0 = 62, py1 = H - 56;
  auto X = [&](double ai) { return px0 + (std::log10(ai) - xd0) / (xd1 - xd0) * (px1 - px0); };
  auto Y = [&](double f) { return py1 - (std::log10(f) - yd0) / (yd1 - yd0) * (py1 - py0); };
  const double x_lo = std::pow(10.0, xd0), x_hi = std::pow(10.0, xd1);
  const double y_lo = std::pow(10.0, yd0);

  // Roof extents (FLOP/B): a compute roof starts at its ridge; a bandwidth roof ends at the
  // ridge of the highest compute roof it meets.
  for (Roof* c : compute_roofs) {
    const Roof* b = partner(*c);
    c->x_start = b ? std::max(x_lo, c->ceiling.value / b->ceiling.value) : x_lo;
    c->x_end = x_hi;
  }
  for (Roof* b : bandwidth_roofs) {
    b->x_start = std::max(x_lo, y_lo / b->ceiling.value);
    b->x_end = x_hi;
    double highest = 0;
    for (const Roof* c : compute_roofs) {
      if (partner(*c) == b) highest = std::max(highest, c->ceiling.value);
    }
    if (highest > 0) b->x_end = std::min(x_hi, highest / b->ceiling.value);
  }
  // Labels; a dtype served by two roofs of the same kind and source also names the threads.
  for (Roof& roof : roofs) {
    std::string source = roof.ceiling.source.empty() ? "" : roof.ceiling.source + " ";
    if (roof.compute) {
      bool ambiguous = false;
      for (const Roof* other : compute_roofs) {
        if (other == &roof || other->ceiling.source != roof.ceiling.source) continue;
        for (const auto& d : roof.dtypes) {
          ambiguous |=
              std::find(other->dtypes.begin(), other->dtypes.end(), d) != other->dtypes.end();
        }
      }
      roof.label = join(roof.dtypes, "/") + " " + source + format_si(roof.ceiling.value, "FLOP/s");
      std::set<std::string> threads = roof.threads;
      threads.erase("");
      if (ambiguous && !threads.empty()) {
        roof.label += " (threads=" + join({threads.begin(), threads.end()}, ",") + ")";
      }
    } else {
      roof.label = "bandwidth " + source + format_si(roof.ceiling.value, "B/s");
    }
  }

  Svg svg;
  std::vector<Box> obstacles;  // label boxes and markers, for placing point labels

  // Frame and grid.
  svg.raw(
      strprintf("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fcfcfc\" "
                "stroke=\"#444\" stroke-width=\"1\"/>\n",
                px0, py0, px1 - px0, py1 - py0));
  const std::string minor = "stroke=\"#ececec\" stroke-width=\"0.6\"";
  const std::string major = "stroke=\"#cfcfcf\" stroke-width=\"0.9\"";
  for (int d = xd0; d <= xd1; ++d) {
    double x = X(std::pow(10.0, d));
    if (d < xd1) {
      for (int m = 2; m <= 9; ++m) {
        double xm = X(m * std::pow(10.0, d));
        svg.line(xm, py0, xm, py1, minor);
      }
    }
    if (d > xd0 && d < xd1) svg.line(x, py0, x, py1, major);
    svg.line(x, py1, x, py1 + 5, "stroke=\"#444\" stroke-width=\"1\"");
    svg.text(x, py1 + 18, intensity_label(d),
             "font-size=\"11\" text-anchor=\"middle\" fill=\"#222\"");
  }
  for (int d = yd0; d <= yd1; ++d) {
    double y = Y(std::pow(10.0, d));
    if (d < yd1) {
      for (int m = 2; m <= 9; ++m) {
        double ym = Y(m * std::pow(10.0, d));
        svg.line(px0, ym, px1, ym, minor);
      }
    }
    if (d > yd0 && d < yd1) svg.line(px0, y, px1, y, major);
    svg.line(px0 - 5, y, px0, y, "stroke=\"#444\" stroke-width=\"1\"");
    svg.text(px0 - 8, y + 4, flops_label(d), "font-size=\"11\" text-anchor=\"end\" fill=\"#222\"");
  }
  svg.text((px0 + px1) / 2, py1 + 40, "arithmetic intensity (FLOP/B, counted work per step)",
           "font-size=\"12\" text-anchor=\"middle\" fill=\"#222\"");
  svg.text(18, (py0 + py1) / 2, "achieved FLOP/s",
           strprintf("font-size=\"12\" text-anchor=\"middle\" fill=\"#222\" "
                     "transform=\"rotate(-90 18 %.1f)\"",
                     (py0 + py1) / 2));

  // Title.
  std::string title = options.title;
  if (title.empty()) {
    std::string host =
        json_string(document.context.is_object() ? document.context.value("host", json::object())
                                                 : json::object(),
                    "hostname");
    title = "Roofline: " + (host.empty() ? "" : host + " | ") +
            device_description(document.context, device);
  }
  std::set<std::string> thread_counts;
  for (const RooflinePoint* p : plotted) {
    thread_counts.insert(param(document.results[p->index - 1], "threads", "?"));
  }
  std::string subtitle = "device " + device +
                         ", threads=" + join({thread_counts.begin(), thread_counts.end()}, ",") +
                         " | " + std::to_string(plotted.size()) + " of " +
                         std::to_string(document.results.size()) + " results plotted";
  std::string timestamp = json_string(document.context, "timestamp");
  if (!timestamp.empty()) subtitle += " | " + timestamp;
  svg.text(px0, 26, title, "font-size=\"16\" font-weight=\"bold\" fill=\"#111\"");
  svg.text(px0, 46, subtitle, "font-size=\"11.5\" fill=\"#444\"");

  // Roofs, clipped to the plot area.
  svg.raw("<g clip-path=\"url(#plot-area)\">\n");
  auto roof_style = [](const Roof& roof) {
    return roof.ceiling.source == "measured"
               ? std::string("stroke=\"#222\" stroke-width=\"2\" fill=\"none\"")
               : std::string(
                     "stroke=\"#555\" stroke-width=\"1.5\" stroke-dasharray=\"7 4\" fill=\"none\"");
  };
  for (const Roof* b : bandwidth_roofs) {
    if (b->x_end <= b->x_start) continue;
    svg.line(X(b->x_start), Y(b->x_start * b->ceiling.value), X(b->x_end),
             Y(b->x_end * b->ceiling.value), roof_style(*b), b->label + ": " + b->ceiling.basis);
  }
  for (const Roof* c : compute_roofs) {
    if (c->x_end <= c->x_start) continue;
    svg.line(X(c->x_start), Y(c->ceiling.value), X(c->x_end), Y(c->ceiling.value), roof_style(*c),
             c->label + ": " + c->ceiling.basis);
  }
  svg.raw("</g>\n");

  // Compute roof labels at the right end, above the line; pushed up where two would collide.
  std::vector<Roof*> by_height = compute_roofs;
  std::sort(by_height.begin(), by_height.end(),
            [](const Roof* a, const Roof* b) { return a->ceiling.value < b->ceiling.value; });
  double previous = 1e300;
  for (const Roof* c : by_height) {
    double y = std::min(Y(c->ceiling.value) - 4, previous - (kLabelFont + 2));
    y = std::max(y, py0 + kLabelFont + 1);
    previous = y;
    double x = px1 - 4;
    svg.text(x, y, c->label,
             strprintf("font-size=\"%.0f\" text-anchor=\"end\" fill=\"#222\"", kLabelFont) +
                 (c->ceiling.source == "measured" ? " font-weight=\"bold\"" : ""));
    obstacles.push_back(text_box(x, y,
                                 text_width(c->label, kLabelFont, c->ceiling.source == "measured"),
                                 kLabelFont, "end"));
  }
  // Bandwidth roof labels along the slope, a fifth of the way up the visible segment.
  for (const Roof* b : bandwidth_roofs) {
    double lo = std::max(b->x_start, x_lo), hi = b->x_end;
    // Visible part: below the top of the plot.
    hi = std::min(hi, std::pow(10.0, yd1) / b->ceiling.value);
    if (hi <= lo) continue;
    double t = 0.2;
    double ai = std::pow(10.0, std::log10(lo) + t * (std::log10(hi) - std::log10(lo)));
    double x = X(ai), y = Y(ai * b->ceiling.value);
    double angle = std::atan2(Y(hi * b->ceiling.value) - Y(lo * b->ceiling.value), X(hi) - X(lo));
    double degrees = angle * 180 / M_PI;
    // Shift the baseline 4 px above the line (perpendicular to it).
    double ox = x + 4 * std::sin(angle), oy = y - 4 * std::cos(angle);
    svg.text(ox, oy, b->label,
             strprintf("font-size=\"%.0f\" fill=\"#222\" transform=\"rotate(%.2f %.1f %.1f)\"",
                       kLabelFont, degrees, ox, oy) +
                 (b->ceiling.source == "measured" ? " font-weight=\"bold\"" : ""));
    double w = text_width(b->label, kLabelFont), h = kLabelFont;
    double cx = ox + std::cos(angle) * w / 2 + std::sin(angle) * h / 2;
    double cy = oy + std::sin(angle) * w / 2 - std::cos(angle) * h / 2;
    double hw = std::fabs(std::cos(angle)) * w / 2 + std::fabs(std::sin(angle)) * h / 2;
    double hh = std::fabs(std::sin(angle)) * w / 2 + std::fabs(std::cos(angle)) * h / 2;
    obstacles.push_back({cx - hw, cy - hh, cx + hw, cy + hh});
  }
  if (roofs.empty()) {
    svg.text(px0 + 8, py0 + 16, "no ceiling known for " + device + ": points only",
             "font-size=\"11\" fill=\"#a00\"");
  }

  // Points: markers first (they are obstacles for every label), then labels.
  for (const RooflinePoint* p : plotted) {
    double x = X(p->intensity), y = Y(p->flops);
    obstacles.push_back({x - kMarkerRadius - 1, y - kMarkerRadius - 1, x + kMarkerRadius + 1,
                         y + kMarkerRadius + 1});
  }
  Svg labels;
  for (const RooflinePoint* p : plotted) {
    double x = X(p->intensity), y = Y(p->flops);
    std::string tooltip = "#" + std::to_string(p->index) + " " + p->problem + ": " +
                          format_si(p->flops, "FLOP/s") + " at " + strprintf("%.3g", p->intensity) +
                          " FLOP/B" + (p->verdict.empty() ? "" : ", " + p->verdict + "-bound");
    svg.circle(x, y, kMarkerRadius,
               "fill=\"" + verdict_colour(p->verdict) +
                   "\" fill-opacity=\"0.9\" stroke=\"#fff\" stroke-width=\"1\"",
               tooltip);

    // Label: the first candidate position (8 directions, growing rings) that overlaps nothing
    // and stays inside the plot; else the least-overlapping one.
    std::string text = std::to_string(p->index);
    double w = text_width(text, kLabelFont, true), h = kLabelFont * 0.85;
    static const int kDirections[][2] = {{1, -1}, {1, 1},  {-1, -1}, {-1, 1},
                                         {1, 0},  {-1, 0}, {0, -1},  {0, 1}};
    Box best{};
    double best_cost = std::numeric_limits<double>::infinity();
    int best_ring = 0;
    for (int ring = 0; ring < 5 && best_cost > 0; ++ring) {
      double gap = 2 + ring * 11;
      for (const auto& d : kDirections) {
        double cx = x + d[0] * (kMarkerRadius + gap + w / 2);
        double cy = y + d[1] * (kMarkerRadius + gap + h / 2);
        if (d[0] != 0 && d[1] != 0) {  // diagonals sit closer
          cx = x + d[0] * (kMarkerRadius * 0.7 + gap + w / 2);
          cy = y + d[1] * (kMarkerRadius * 0.7 + gap + h / 2);
        }
        Box box{cx - w / 2 - 1, cy - h / 2 - 1, cx + w / 2 + 1, cy + h / 2 + 1};
        double cost = ring * 0.5;  // prefer near positions among equally crowded ones
        double collisions = 0;
        for (const Box& o : obstacles) collisions += box.overlap(o);
        if (box.x0 < px0 || box.x1 > px1 || box.y0 < py0 || box.y1 > py1) collisions += 1e4;
        cost = collisions > 0 ? collisions + cost + 1 : 0;
        if (cost < best_cost) {
          best_cost = cost;
          best = box;
          best_ring = ring;
          if (cost == 0) break;
        }
      }
    }
    obstacles.push_back(best);
    double cx = (best.x0 + best.x1) / 2, cy = (best.y0 + best.y1) / 2;
    if (best_ring > 0) {  // leader line from the marker's edge to the label
      double dx = cx - x, dy = cy - y, length = std::hypot(dx, dy);
      if (length > kMarkerRadius + 1) {
        labels.line(x + dx / length * kMarkerRadius, y + dy / length * kMarkerRadius,
                    cx - dx / length * (w / 2), cy - dy / length * (h / 2),
                    "stroke=\"#777\" stroke-width=\"0.7\"");
      }
    }
    labels.text(cx, cy + h / 2, text,
                strprintf("font-size=\"%.0f\" font-weight=\"bold\" text-anchor=\"middle\" "
                          "fill=\"#111\" stroke=\"#fff\" stroke-width=\"2.5\" "
                          "paint-order=\"stroke\"",
                          kLabelFont));
  }
  svg.raw(labels.str());

  // Legend table under the chart.
  double y = H + 8;
  Svg table;
  {
    double x = px0;
    for (const char* verdict : {"compute", "memory", "latency", "neither", ""}) {
      std::string text = std::string(verdict) == "neither" ? "neither ceiling"
                         : *verdict                        ? std::string(verdict) + "-bound"
                                                           : "no bound verdict";
      table.circle(x + 5, y, kMarkerRadius, "fill=\"" + verdict_colour(verdict) + "\"");
      table.text(x + 14, y + 4, text, "font-size=\"11\" fill=\"#222\"");
      x += 14 + text_width(text, 11) + 18;
    }
    table.line(x, y, x + 30, y, "stroke=\"#222\" stroke-width=\"2\"");
    table.text(x + 36, y + 4, "measured ceiling", "font-size=\"11\" fill=\"#222\"");
    x += 36 + text_width("measured ceiling", 11) + 18;
    table.line(x, y, x + 30, y, "stroke=\"#555\" stroke-width=\"1.5\" stroke-dasharray=\"7 4\"");
    table.text(x + 36, y + 4, "theoretical ceiling", "font-size=\"11\" fill=\"#222\"");
  }
  y += 28;
  // Columns, right to left.
  const double col_bound = W - 76, col_pct = W - 178, col_achieved = W - 186, col_ai = W - 282,
               col_repro = 58;
  const size_t repro_chars = static_cast<size_t>(
      std::clamp((col_ai - 62 - 10 - col_repro) / (kLabelFont * 0.6), 20.0, 90.0));
  const std::string head = "font-size=\"11\" font-weight=\"bold\" fill=\"#111\"";
  table.text(40, y, "#", head + " text-anchor=\"end\"");
  table.text(col_repro, y, "problem (device=" + device + " and seed= left out)", head);
  table.text(col_ai, y, "FLOP/B", head + " text-anchor=\"end\"");
  table.text(col_achieved, y, "achieved", head + " text-anchor=\"end\"");
  table.text(col_pct, y, "% of roof", head);
  table.text(col_bound, y, "bound", head);
  table.line(16, y + 5, W - 16, y + 5, "stroke=\"#999\" stroke-width=\"0.8\"");
  y += 20;
  const std::string cell = "font-size=\"11\" fill=\"#222\"";
  bool missing_bandwidth = false;
  for (const RooflinePoint* p : plotted) {
    missing_bandwidth |= !p->bandwidth;
    table.text(40, y, std::to_string(p->index), cell + " text-anchor=\"end\"");
    table.circle(49, y - 4, 4, "fill=\"" + verdict_colour(p->verdict) + "\"");
    table.text(col_repro, y, truncate(short_repro(p->problem, device), repro_chars), cell);
    table.text(col_ai, y, strprintf("%.3g", p->intensity), cell + " text-anchor=\"end\"");
    table.text(col_achieved, y, format_si(p->flops, "FLOP/s"), cell + " text-anchor=\"end\"");
    table.text(col_pct, y,
               p->attainable > 0 ? strprintf("%.1f%% ", p->pct_of_roof) + p->limit : "-", cell);
    table.text(col_bound, y, p->verdict.empty() ? "-" : p->verdict, cell);
    y += 16;
  }
  std::vector<const RooflinePoint*> left_out;
  for (const auto& p : points) {
    if (!p.plotted) left_out.push_back(&p);
  }
  if (!left_out.empty()) {
    y += 8;
    table.text(col_repro, y, "not plotted", head);
    table.line(16, y + 5, W - 16, y + 5, "stroke=\"#999\" stroke-width=\"0.8\"");
    y += 20;
    // The reason gets the right half; the repro what is left of the left half.
    const double col_reason = std::round(W * 0.55);
    const size_t reason_chars = static_cast<size_t>((W - 16 - col_reason) / (kLabelFont * 0.6));
    const size_t left_repro_chars =
        static_cast<size_t>((col_reason - 10 - col_repro) / (kLabelFont * 0.6));
    for (const RooflinePoint* p : left_out) {
      table.text(40, y, std::to_string(p->index), cell + " text-anchor=\"end\"");
      table.text(col_repro, y, truncate(short_repro(p->problem, device), left_repro_chars),
                 "font-size=\"11\" fill=\"#666\"");
      table.text(col_reason, y, truncate(p->excluded, reason_chars),
                 "font-size=\"11\" fill=\"#666\" font-style=\"italic\"");
      y += 16;
    }
  }
  y += 8;
  const std::string note = "font-size=\"10.5\" fill=\"#555\"";
  table.text(col_repro, y,
             "% of roof: achieved / min(compute roof, FLOP/B x bandwidth roof) for the point's "
             "dtype; the word says which roof applies.",
             note);
  y += 15;
  if (missing_bandwidth) {
    table.text(col_repro, y,
               "No bandwidth ceiling known for " + device +
                   " (the CPU has no derivable one; measure it with dlbench peak): "
                   "roofs are flat and % is of the compute roof.",
               note);
    y += 15;
  }
  table.text(col_repro, y,
             "Source: " + source + ". Hover a point or roof for its repro string or ceiling basis.",
             note);
  y += 12;
  const double total_height = std::ceil(y + 8);

  std::ostringstream out;
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" << fmt(W)
      << "\" height=\"" << fmt(total_height) << "\" viewBox=\"0 0 " << fmt(W) << " "
      << fmt(total_height) << "\" font-family=\"" << kFont << "\">\n"
      << "<title>" << xml_escape(title) << "</title>\n"
      << "<desc>" << xml_escape(subtitle) << "</desc>\n"
      << "<defs><clipPath id=\"plot-area\"><rect x=\"" << fmt(px0) << "\" y=\"" << fmt(py0)
      << "\" width=\"" << fmt(px1 - px0) << "\" height=\"" << fmt(py1 - py0)
      << "\"/></clipPath></defs>\n"
      << "<rect x=\"0\" y=\"0\" width=\"" << fmt(W) << "\" height=\"" << fmt(total_height)
      << "\" fill=\"#ffffff\"/>\n"
      << svg.str() << table.str() << "</svg>\n";
  return out.str();
}

std::string roofline_svg_file(const std::string& path, RooflineOptions options) {
  if (options.source.empty()) options.source = path;
  return roofline_svg(ResultsDocument::load(path), options);
}

}  // namespace dlbench
