#include "report/roofline.h"

#include <fmt/core.h>
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <utility>

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

std::string one_decimal(double value) { return fmt::format("{:.1f}", value); }

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
    if (r.bound) p.verdict = verdict_name(r.bound->verdict);
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
  if (decade >= -3 && decade < 0) return fmt::format("{:.{}f}", std::pow(10.0, decade), -decade);
  if (decade >= 0 && decade <= 4) return fmt::format("{:.0f}", std::pow(10.0, decade));
  return fmt::format("1e{}", decade);
}

/// "1 G", "10 G", "100 G", "1 T" for FLOP/s decades.
std::string flops_label(int decade) {
  static const char* kPrefixes[] = {"", " k", " M", " G", " T", " P", " E"};
  if (decade < 0 || decade >= 21) return fmt::format("1e{}", decade);
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
    out_ << "<line x1=\"" << one_decimal(x0) << "\" y1=\"" << one_decimal(y0) << "\" x2=\""
         << one_decimal(x1) << "\" y2=\"" << one_decimal(y1) << "\" " << style;
    close("line", tooltip);
  }
  void text(double x, double y, const std::string& content, const std::string& attributes) {
    out_ << "<text x=\"" << one_decimal(x) << "\" y=\"" << one_decimal(y) << "\" " << attributes
         << ">" << xml_escape(content) << "</text>\n";
  }
  void circle(double x, double y, double r, const std::string& style,
              const std::string& tooltip = "") {
    out_ << "<circle cx=\"" << one_decimal(x) << "\" cy=\"" << one_decimal(y) << "\" r=\""
         << one_decimal(r) << "\" " << style;
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

// ---------------------------------------------------------------------------------------------
// Chart: scale

/// The chart's geometry: the panel size, the plot area in px and the whole decades each log
/// axis spans. Maps (FLOP/B, FLOP/s) to pixels.
struct ChartFrame {
  int xd0 = 0, xd1 = 0;  ///< first and last decade of intensity (FLOP/B = 10^d)
  int yd0 = 0, yd1 = 0;  ///< first and last decade of FLOP/s
  double W = 0;          ///< SVG width
  double H = 0;          ///< height of the chart panel; the legend table starts below it
  double px0 = 0, px1 = 0, py0 = 0, py1 = 0;  ///< the plot area

  /// Pixel x of an intensity (FLOP/B).
  double X(double ai) const { return px0 + (std::log10(ai) - xd0) / (xd1 - xd0) * (px1 - px0); }
  /// Pixel y of a FLOP/s value.
  double Y(double f) const { return py1 - (std::log10(f) - yd0) / (yd1 - yd0) * (py1 - py0); }
  double x_lo() const { return std::pow(10.0, xd0); }  ///< lowest intensity shown
  double x_hi() const { return std::pow(10.0, xd1); }  ///< highest intensity shown
  double y_lo() const { return std::pow(10.0, yd0); }  ///< lowest FLOP/s shown
  double y_hi() const { return std::pow(10.0, yd1); }  ///< highest FLOP/s shown
};

// ---------------------------------------------------------------------------------------------
// Chart: roofs

/// Every roof the chart draws, with the compute and bandwidth ones also listed apart. The lists
/// point into `all`, so a RoofSet is never copied.
struct RoofSet {
  std::vector<Roof> all;
  std::vector<Roof*> compute, bandwidth;

  explicit RoofSet(std::vector<Roof> roofs) : all(std::move(roofs)) {
    for (Roof& roof : all) (roof.compute ? compute : bandwidth).push_back(&roof);
  }
  RoofSet(const RoofSet&) = delete;
  RoofSet& operator=(const RoofSet&) = delete;

  /// The bandwidth roof a compute roof meets at its ridge: same source, else the first one.
  const Roof* partner(const Roof& c) const {
    for (const Roof* b : bandwidth) {
      if (b->ceiling.source == c.ceiling.source) return b;
    }
    return bandwidth.empty() ? nullptr : bandwidth.front();
  }
};

/// Every distinct ceiling of the plotted points, plus the theoretical ones beside the measured
/// ones, in the order first met.
std::vector<Roof> collect_roofs(const ResultsDocument& document,
                                const std::vector<const RooflinePoint*>& plotted) {
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
  return roofs;
}

/// The frame for `options`' size. Axis ranges, in decades: 0.01 .. 1000 FLOP/B at least, wide
/// enough for every point and ridge; FLOP/s from the lowest point to above the highest roof
/// (room for its label), two decades at least.
ChartFrame chart_frame(const std::vector<const RooflinePoint*>& plotted, const RoofSet& roofs,
                       const RooflineOptions& options) {
  double ai_min = 1e300, ai_max = 0, f_min = 1e300, f_max = 0;
  for (const RooflinePoint* p : plotted) {
    ai_min = std::min(ai_min, p->intensity);
    ai_max = std::max(ai_max, p->intensity);
    f_min = std::min(f_min, p->flops);
    f_max = std::max(f_max, p->flops);
  }
  for (const Roof* c : roofs.compute) {
    f_max = std::max(f_max, c->ceiling.value);
    if (const Roof* b = roofs.partner(*c)) {
      double ridge = c->ceiling.value / b->ceiling.value;
      ai_min = std::min(ai_min, ridge);
      ai_max = std::max(ai_max, ridge);
    }
  }
  ChartFrame f;
  f.xd0 = std::min(-2, static_cast<int>(std::floor(std::log10(ai_min) - 0.05)));
  f.xd1 = std::max(3, static_cast<int>(std::ceil(std::log10(ai_max) + 0.05)));
  f.yd0 = static_cast<int>(std::floor(std::log10(f_min) - 0.05));
  f.yd1 = static_cast<int>(std::ceil(std::log10(f_max) + 0.15));  // room for roof labels
  if (f.yd1 - f.yd0 < 2) f.yd0 = f.yd1 - 2;

  f.W = std::max(options.width, 720);  // the table needs the room
  f.H = std::max(options.height, 320);
  f.px0 = 78;
  f.px1 = f.W - 24;
  f.py0 = 62;
  f.py1 = f.H - 56;
  return f;
}

/// Each roof's extent in FLOP/B: a compute roof starts at its ridge; a bandwidth roof ends at
/// the ridge of the highest compute roof it meets.
void set_roof_extents(RoofSet& roofs, const ChartFrame& f) {
  const double x_lo = f.x_lo(), x_hi = f.x_hi();
  for (Roof* c : roofs.compute) {
    const Roof* b = roofs.partner(*c);
    c->x_start = b ? std::max(x_lo, c->ceiling.value / b->ceiling.value) : x_lo;
    c->x_end = x_hi;
  }
  for (Roof* b : roofs.bandwidth) {
    b->x_start = std::max(x_lo, f.y_lo() / b->ceiling.value);
    b->x_end = x_hi;
    double highest = 0;
    for (const Roof* c : roofs.compute) {
      if (roofs.partner(*c) == b) highest = std::max(highest, c->ceiling.value);
    }
    if (highest > 0) b->x_end = std::min(x_hi, highest / b->ceiling.value);
  }
}

/// Each roof's label; a dtype served by two roofs of the same kind and source also names the
/// threads.
void set_roof_labels(RoofSet& roofs) {
  for (Roof& roof : roofs.all) {
    std::string source = roof.ceiling.source.empty() ? "" : roof.ceiling.source + " ";
    if (!roof.compute) {
      roof.label = "bandwidth " + source + format_si(roof.ceiling.value, "B/s");
      continue;
    }
    bool ambiguous = false;
    for (const Roof* other : roofs.compute) {
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
  }
}

/// Line style of a roof: measured ceilings solid, the others dashed.
std::string roof_style(const Roof& roof) {
  return roof.ceiling.source == "measured"
             ? std::string("stroke=\"#222\" stroke-width=\"2\" fill=\"none\"")
             : std::string(
                   "stroke=\"#555\" stroke-width=\"1.5\" stroke-dasharray=\"7 4\" fill=\"none\"");
}

/// The roof lines, clipped to the plot area, each with its ceiling basis as tooltip.
void draw_roof_lines(Svg& svg, const RoofSet& roofs, const ChartFrame& f) {
  svg.raw("<g clip-path=\"url(#plot-area)\">\n");
  for (const Roof* b : roofs.bandwidth) {
    if (b->x_end <= b->x_start) continue;
    svg.line(f.X(b->x_start), f.Y(b->x_start * b->ceiling.value), f.X(b->x_end),
             f.Y(b->x_end * b->ceiling.value), roof_style(*b), b->label + ": " + b->ceiling.basis);
  }
  for (const Roof* c : roofs.compute) {
    if (c->x_end <= c->x_start) continue;
    svg.line(f.X(c->x_start), f.Y(c->ceiling.value), f.X(c->x_end), f.Y(c->ceiling.value),
             roof_style(*c), c->label + ": " + c->ceiling.basis);
  }
  svg.raw("</g>\n");
}

/// Compute roof labels at the right end, above the line; pushed up where two would collide.
/// Their boxes become obstacles for the point labels.
void draw_compute_roof_labels(Svg& svg, const RoofSet& roofs, const ChartFrame& f,
                              std::vector<Box>& obstacles) {
  std::vector<Roof*> by_height = roofs.compute;
  std::sort(by_height.begin(), by_height.end(),
            [](const Roof* a, const Roof* b) { return a->ceiling.value < b->ceiling.value; });
  double previous = 1e300;
  for (const Roof* c : by_height) {
    double y = std::min(f.Y(c->ceiling.value) - 4, previous - (kLabelFont + 2));
    y = std::max(y, f.py0 + kLabelFont + 1);
    previous = y;
    double x = f.px1 - 4;
    svg.text(x, y, c->label,
             fmt::format("font-size=\"{:.0f}\" text-anchor=\"end\" fill=\"#222\"", kLabelFont) +
                 (c->ceiling.source == "measured" ? " font-weight=\"bold\"" : ""));
    obstacles.push_back(text_box(x, y,
                                 text_width(c->label, kLabelFont, c->ceiling.source == "measured"),
                                 kLabelFont, "end"));
  }
}

/// Bandwidth roof labels along the slope, a fifth of the way up the visible segment. Their
/// (axis-aligned, enclosing) boxes become obstacles for the point labels.
void draw_bandwidth_roof_labels(Svg& svg, const RoofSet& roofs, const ChartFrame& f,
                                std::vector<Box>& obstacles) {
  for (const Roof* b : roofs.bandwidth) {
    double lo = std::max(b->x_start, f.x_lo()), hi = b->x_end;
    // Visible part: below the top of the plot.
    hi = std::min(hi, f.y_hi() / b->ceiling.value);
    if (hi <= lo) continue;
    double t = 0.2;
    double ai = std::pow(10.0, std::log10(lo) + t * (std::log10(hi) - std::log10(lo)));
    double x = f.X(ai), y = f.Y(ai * b->ceiling.value);
    double angle =
        std::atan2(f.Y(hi * b->ceiling.value) - f.Y(lo * b->ceiling.value), f.X(hi) - f.X(lo));
    double degrees = angle * 180 / M_PI;
    // Shift the baseline 4 px above the line (perpendicular to it).
    double ox = x + 4 * std::sin(angle), oy = y - 4 * std::cos(angle);
    svg.text(
        ox, oy, b->label,
        fmt::format("font-size=\"{:.0f}\" fill=\"#222\" transform=\"rotate({:.2f} {:.1f} {:.1f})\"",
                    kLabelFont, degrees, ox, oy) +
            (b->ceiling.source == "measured" ? " font-weight=\"bold\"" : ""));
    double w = text_width(b->label, kLabelFont), h = kLabelFont;
    double cx = ox + std::cos(angle) * w / 2 + std::sin(angle) * h / 2;
    double cy = oy + std::sin(angle) * w / 2 - std::cos(angle) * h / 2;
    double hw = std::fabs(std::cos(angle)) * w / 2 + std::fabs(std::sin(angle)) * h / 2;
    double hh = std::fabs(std::sin(angle)) * w / 2 + std::fabs(std::cos(angle)) * h / 2;
    obstacles.push_back({cx - hw, cy - hh, cx + hw, cy + hh});
  }
}

/// The roofs with their labels, or a note when no ceiling is known for the device.
void draw_roofs(Svg& svg, const RoofSet& roofs, const ChartFrame& f, const std::string& device,
                std::vector<Box>& obstacles) {
  draw_roof_lines(svg, roofs, f);
  draw_compute_roof_labels(svg, roofs, f, obstacles);
  draw_bandwidth_roof_labels(svg, roofs, f, obstacles);
  if (roofs.all.empty()) {
    svg.text(f.px0 + 8, f.py0 + 16, "no ceiling known for " + device + ": points only",
             "font-size=\"11\" fill=\"#a00\"");
  }
}

// ---------------------------------------------------------------------------------------------
// Chart: axes and title

/// The plot area's frame, the decade and minor grid lines, the tick labels and the axis titles.
void draw_axes(Svg& svg, const ChartFrame& f) {
  svg.raw(fmt::format(
      "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"#fcfcfc\" "
      "stroke=\"#444\" stroke-width=\"1\"/>\n",
      f.px0, f.py0, f.px1 - f.px0, f.py1 - f.py0));
  const std::string minor = "stroke=\"#ececec\" stroke-width=\"0.6\"";
  const std::string major = "stroke=\"#cfcfcf\" stroke-width=\"0.9\"";
  for (int d = f.xd0; d <= f.xd1; ++d) {
    double x = f.X(std::pow(10.0, d));
    if (d < f.xd1) {
      for (int m = 2; m <= 9; ++m) {
        double xm = f.X(m * std::pow(10.0, d));
        svg.line(xm, f.py0, xm, f.py1, minor);
      }
    }
    if (d > f.xd0 && d < f.xd1) svg.line(x, f.py0, x, f.py1, major);
    svg.line(x, f.py1, x, f.py1 + 5, "stroke=\"#444\" stroke-width=\"1\"");
    svg.text(x, f.py1 + 18, intensity_label(d),
             "font-size=\"11\" text-anchor=\"middle\" fill=\"#222\"");
  }
  for (int d = f.yd0; d <= f.yd1; ++d) {
    double y = f.Y(std::pow(10.0, d));
    if (d < f.yd1) {
      for (int m = 2; m <= 9; ++m) {
        double ym = f.Y(m * std::pow(10.0, d));
        svg.line(f.px0, ym, f.px1, ym, minor);
      }
    }
    if (d > f.yd0 && d < f.yd1) svg.line(f.px0, y, f.px1, y, major);
    svg.line(f.px0 - 5, y, f.px0, y, "stroke=\"#444\" stroke-width=\"1\"");
    svg.text(f.px0 - 8, y + 4, flops_label(d),
             "font-size=\"11\" text-anchor=\"end\" fill=\"#222\"");
  }
  svg.text((f.px0 + f.px1) / 2, f.py1 + 40, "arithmetic intensity (FLOP/B, counted work per step)",
           "font-size=\"12\" text-anchor=\"middle\" fill=\"#222\"");
  svg.text(18, (f.py0 + f.py1) / 2, "achieved FLOP/s",
           fmt::format("font-size=\"12\" text-anchor=\"middle\" fill=\"#222\" "
                       "transform=\"rotate(-90 18 {:.1f})\"",
                       (f.py0 + f.py1) / 2));
}

/// options.title, else "Roofline: <host> | <device description>".
std::string chart_title(const ResultsDocument& document, const RooflineOptions& options,
                        const std::string& device) {
  if (!options.title.empty()) return options.title;
  std::string host =
      json_string(document.context.is_object() ? document.context.value("host", json::object())
                                               : json::object(),
                  "hostname");
  return "Roofline: " + (host.empty() ? "" : host + " | ") +
         device_description(document.context, device);
}

/// The line under the title: device, thread counts, how many results are plotted, timestamp.
std::string chart_subtitle(const ResultsDocument& document,
                           const std::vector<const RooflinePoint*>& plotted,
                           const std::string& device) {
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
  return subtitle;
}

/// The title and the subtitle above the plot area.
void draw_title(Svg& svg, const ChartFrame& f, const std::string& title,
                const std::string& subtitle) {
  svg.text(f.px0, 26, title, "font-size=\"16\" font-weight=\"bold\" fill=\"#111\"");
  svg.text(f.px0, 46, subtitle, "font-size=\"11.5\" fill=\"#444\"");
}

// ---------------------------------------------------------------------------------------------
// Chart: points

/// Where a point's label goes: its box, and the ring (distance step from the marker) it is on.
struct LabelSpot {
  Box box{};
  int ring = 0;
};

/// The first candidate spot for a w x h label around the marker at (x, y) (8 directions,
/// growing rings) that overlaps no obstacle and stays inside the plot; else the
/// least-overlapping one.
LabelSpot place_label(double x, double y, double w, double h, const std::vector<Box>& obstacles,
                      const ChartFrame& f) {
  static const int kDirections[][2] = {{1, -1}, {1, 1},  {-1, -1}, {-1, 1},
                                       {1, 0},  {-1, 0}, {0, -1},  {0, 1}};
  LabelSpot best;
  double best_cost = std::numeric_limits<double>::infinity();
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
      if (box.x0 < f.px0 || box.x1 > f.px1 || box.y0 < f.py0 || box.y1 > f.py1) collisions += 1e4;
      cost = collisions > 0 ? collisions + cost + 1 : 0;
      if (cost < best_cost) {
        best_cost = cost;
        best = {box, ring};
        if (cost == 0) break;
      }
    }
  }
  return best;
}

/// A point's marker, coloured by its verdict, with its numbers as tooltip.
void draw_marker(Svg& svg, const RooflinePoint& p, double x, double y) {
  std::string tooltip = "#" + std::to_string(p.index) + " " + p.problem + ": " +
                        format_si(p.flops, "FLOP/s") + " at " + fmt::format("{:.3g}", p.intensity) +
                        " FLOP/B" + (p.verdict.empty() ? "" : ", " + p.verdict + "-bound");
  svg.circle(x, y, kMarkerRadius,
             "fill=\"" + verdict_colour(p.verdict) +
                 "\" fill-opacity=\"0.9\" stroke=\"#fff\" stroke-width=\"1\"",
             tooltip);
}

/// A point's number at a free spot near its marker at (x, y), with a leader line when the spot
/// is not next to the marker. The label's box becomes an obstacle for the later labels.
void draw_point_label(Svg& labels, const RooflinePoint& p, double x, double y,
                      std::vector<Box>& obstacles, const ChartFrame& f) {
  std::string text = std::to_string(p.index);
  double w = text_width(text, kLabelFont, true), h = kLabelFont * 0.85;
  LabelSpot spot = place_label(x, y, w, h, obstacles, f);
  const Box& best = spot.box;
  obstacles.push_back(best);
  double cx = (best.x0 + best.x1) / 2, cy = (best.y0 + best.y1) / 2;
  if (spot.ring > 0) {  // leader line from the marker's edge to the label
    double dx = cx - x, dy = cy - y, length = std::hypot(dx, dy);
    if (length > kMarkerRadius + 1) {
      labels.line(x + dx / length * kMarkerRadius, y + dy / length * kMarkerRadius,
                  cx - dx / length * (w / 2), cy - dy / length * (h / 2),
                  "stroke=\"#777\" stroke-width=\"0.7\"");
    }
  }
  labels.text(cx, cy + h / 2, text,
              fmt::format("font-size=\"{:.0f}\" font-weight=\"bold\" text-anchor=\"middle\" "
                          "fill=\"#111\" stroke=\"#fff\" stroke-width=\"2.5\" "
                          "paint-order=\"stroke\"",
                          kLabelFont));
}

/// The points: every marker is an obstacle before any label is placed, and the labels are drawn
/// after all markers so that none is hidden under one.
void draw_points(Svg& svg, const std::vector<const RooflinePoint*>& plotted, const ChartFrame& f,
                 std::vector<Box>& obstacles) {
  for (const RooflinePoint* p : plotted) {
    double x = f.X(p->intensity), y = f.Y(p->flops);
    obstacles.push_back({x - kMarkerRadius - 1, y - kMarkerRadius - 1, x + kMarkerRadius + 1,
                         y + kMarkerRadius + 1});
  }
  Svg labels;
  for (const RooflinePoint* p : plotted) {
    double x = f.X(p->intensity), y = f.Y(p->flops);
    draw_marker(svg, *p, x, y);
    draw_point_label(labels, *p, x, y, obstacles, f);
  }
  svg.raw(labels.str());
}

// ---------------------------------------------------------------------------------------------
// Legend table

constexpr const char* kHeadStyle = "font-size=\"11\" font-weight=\"bold\" fill=\"#111\"";
constexpr const char* kCellStyle = "font-size=\"11\" fill=\"#222\"";
constexpr const char* kNoteStyle = "font-size=\"10.5\" fill=\"#555\"";

/// x of the table's columns (right to left), and how much of a repro string fits its column.
struct TableColumns {
  double bound, pct, achieved, ai, repro;
  size_t repro_chars;
};

TableColumns table_columns(double W) {
  TableColumns c;
  c.bound = W - 76;
  c.pct = W - 178;
  c.achieved = W - 186;
  c.ai = W - 282;
  c.repro = 58;
  c.repro_chars =
      static_cast<size_t>(std::clamp((c.ai - 62 - 10 - c.repro) / (kLabelFont * 0.6), 20.0, 90.0));
  return c;
}

/// The key row at y: a marker per verdict colour, then the measured and theoretical roof lines.
void draw_legend_key(Svg& table, double x, double y) {
  for (const char* verdict : {"compute", "memory", "latency", "neither", ""}) {
    std::string text = std::string(verdict) == "neither" ? "neither ceiling"
                       : *verdict                        ? std::string(verdict) + "-bound"
                                                         : "no bound verdict";
    table.circle(x + 5, y, kMarkerRadius, "fill=\"" + verdict_colour(verdict) + "\"");
    table.text(x + 14, y + 4, text, kCellStyle);
    x += 14 + text_width(text, 11) + 18;
  }
  table.line(x, y, x + 30, y, "stroke=\"#222\" stroke-width=\"2\"");
  table.text(x + 36, y + 4, "measured ceiling", kCellStyle);
  x += 36 + text_width("measured ceiling", 11) + 18;
  table.line(x, y, x + 30, y, "stroke=\"#555\" stroke-width=\"1.5\" stroke-dasharray=\"7 4\"");
  table.text(x + 36, y + 4, "theoretical ceiling", kCellStyle);
}

/// The header and one row per plotted point, from y down; returns the y after them.
double draw_plotted_rows(Svg& table, const TableColumns& c, double W,
                         const std::vector<const RooflinePoint*>& plotted,
                         const std::string& device, double y) {
  const std::string head = kHeadStyle, cell = kCellStyle;
  table.text(40, y, "#", head + " text-anchor=\"end\"");
  table.text(c.repro, y, "problem (device=" + device + " and seed= left out)", head);
  table.text(c.ai, y, "FLOP/B", head + " text-anchor=\"end\"");
  table.text(c.achieved, y, "achieved", head + " text-anchor=\"end\"");
  table.text(c.pct, y, "% of roof", head);
  table.text(c.bound, y, "bound", head);
  table.line(16, y + 5, W - 16, y + 5, "stroke=\"#999\" stroke-width=\"0.8\"");
  y += 20;
  for (const RooflinePoint* p : plotted) {
    table.text(40, y, std::to_string(p->index), cell + " text-anchor=\"end\"");
    table.circle(49, y - 4, 4, "fill=\"" + verdict_colour(p->verdict) + "\"");
    table.text(c.repro, y, truncate(short_repro(p->problem, device), c.repro_chars), cell);
    table.text(c.ai, y, fmt::format("{:.3g}", p->intensity), cell + " text-anchor=\"end\"");
    table.text(c.achieved, y, format_si(p->flops, "FLOP/s"), cell + " text-anchor=\"end\"");
    table.text(c.pct, y,
               p->attainable > 0 ? fmt::format("{:.1f}% ", p->pct_of_roof) + p->limit : "-", cell);
    table.text(c.bound, y, p->verdict.empty() ? "-" : p->verdict, cell);
    y += 16;
  }
  return y;
}

/// A "not plotted" section listing each result left off with its reason, from y down; returns
/// the y after it (y itself when every result is plotted).
double draw_left_out_rows(Svg& table, const TableColumns& c, double W,
                          const std::vector<RooflinePoint>& points, const std::string& device,
                          double y) {
  std::vector<const RooflinePoint*> left_out;
  for (const auto& p : points) {
    if (!p.plotted) left_out.push_back(&p);
  }
  if (left_out.empty()) return y;
  y += 8;
  table.text(c.repro, y, "not plotted", kHeadStyle);
  table.line(16, y + 5, W - 16, y + 5, "stroke=\"#999\" stroke-width=\"0.8\"");
  y += 20;
  // The reason gets the right half; the repro what is left of the left half.
  const double col_reason = std::round(W * 0.55);
  const size_t reason_chars = static_cast<size_t>((W - 16 - col_reason) / (kLabelFont * 0.6));
  const size_t repro_chars = static_cast<size_t>((col_reason - 10 - c.repro) / (kLabelFont * 0.6));
  for (const RooflinePoint* p : left_out) {
    table.text(40, y, std::to_string(p->index), std::string(kCellStyle) + " text-anchor=\"end\"");
    table.text(c.repro, y, truncate(short_repro(p->problem, device), repro_chars),
               "font-size=\"11\" fill=\"#666\"");
    table.text(col_reason, y, truncate(p->excluded, reason_chars),
               "font-size=\"11\" fill=\"#666\" font-style=\"italic\"");
    y += 16;
  }
  return y;
}

/// The notes under the table (how % of roof is computed, a missing bandwidth ceiling, the
/// source), from y down; returns the y after them.
double draw_notes(Svg& table, const TableColumns& c, bool missing_bandwidth,
                  const std::string& device, const std::string& source, double y) {
  table.text(c.repro, y,
             "% of roof: achieved / min(compute roof, FLOP/B x bandwidth roof) for the point's "
             "dtype; the word says which roof applies.",
             kNoteStyle);
  y += 15;
  if (missing_bandwidth) {
    table.text(c.repro, y,
               "No bandwidth ceiling known for " + device +
                   " (the CPU has no derivable one; measure it with dlbench peak): "
                   "roofs are flat and % is of the compute roof.",
               kNoteStyle);
    y += 15;
  }
  table.text(c.repro, y,
             "Source: " + source + ". Hover a point or roof for its repro string or ceiling basis.",
             kNoteStyle);
  return y + 12;
}

/// The legend table below the chart panel: the key, the plotted points, the results left out
/// and the notes. Returns the height of the whole SVG.
double draw_legend_table(Svg& table, const ChartFrame& f, const std::vector<RooflinePoint>& points,
                         const std::vector<const RooflinePoint*>& plotted,
                         const std::string& device, const std::string& source) {
  double y = f.H + 8;
  draw_legend_key(table, f.px0, y);
  y += 28;
  const TableColumns columns = table_columns(f.W);
  y = draw_plotted_rows(table, columns, f.W, plotted, device, y);
  y = draw_left_out_rows(table, columns, f.W, points, device, y);
  bool missing_bandwidth = std::any_of(plotted.begin(), plotted.end(),
                                       [](const RooflinePoint* p) { return !p->bandwidth; });
  y = draw_notes(table, columns, missing_bandwidth, device, source, y + 8);
  return std::ceil(y + 8);
}

/// The standalone SVG document around `body`: title and description, the plot area's clip
/// path and a white background of the full size.
std::string svg_document(const ChartFrame& f, double total_height, const std::string& title,
                         const std::string& subtitle, const std::string& body) {
  std::ostringstream out;
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" << one_decimal(f.W)
      << "\" height=\"" << one_decimal(total_height) << "\" viewBox=\"0 0 " << one_decimal(f.W)
      << " " << one_decimal(total_height) << "\" font-family=\"" << kFont << "\">\n"
      << "<title>" << xml_escape(title) << "</title>\n"
      << "<desc>" << xml_escape(subtitle) << "</desc>\n"
      << "<defs><clipPath id=\"plot-area\"><rect x=\"" << one_decimal(f.px0) << "\" y=\""
      << one_decimal(f.py0) << "\" width=\"" << one_decimal(f.px1 - f.px0) << "\" height=\""
      << one_decimal(f.py1 - f.py0) << "\"/></clipPath></defs>\n"
      << "<rect x=\"0\" y=\"0\" width=\"" << one_decimal(f.W) << "\" height=\""
      << one_decimal(total_height) << "\" fill=\"#ffffff\"/>\n"
      << body << "</svg>\n";
  return out.str();
}

/// The plotted points of `points`, in document order.
std::vector<const RooflinePoint*> plotted_points(const std::vector<RooflinePoint>& points) {
  std::vector<const RooflinePoint*> plotted;
  for (const auto& p : points) {
    if (p.plotted) plotted.push_back(&p);
  }
  return plotted;
}

/// The error for a document with nothing to plot; when a device was asked for, it names the
/// devices that do have plottable results.
[[noreturn]] void throw_nothing_plotted(const ResultsDocument& document,
                                        const std::string& requested, const std::string& source) {
  std::set<std::string> devices;
  for (const auto& r : document.results) {
    if (unplottable_reason(r).empty()) devices.insert(result_device(r));
  }
  if (!requested.empty() && !devices.empty()) {
    throw Error("no result in " + source + " on device " + requested +
                " has both FLOPs and bytes counted (such results ran on: " +
                join(std::vector<std::string>(devices.begin(), devices.end()), ", ") + ")");
  }
  throw Error("no result in " + source +
              " has both FLOPs and bytes counted: nothing to place on a roofline");
}

}  // namespace

std::string roofline_svg(const ResultsDocument& document, const RooflineOptions& options) {
  const std::string source = options.source.empty() ? "the results document" : options.source;
  const std::vector<RooflinePoint> points = roofline_points(document, options.device);
  const std::vector<const RooflinePoint*> plotted = plotted_points(points);
  if (plotted.empty()) throw_nothing_plotted(document, options.device, source);
  const std::string device = plotted.front()->device;

  RoofSet roofs(collect_roofs(document, plotted));
  const ChartFrame frame = chart_frame(plotted, roofs, options);
  set_roof_extents(roofs, frame);
  set_roof_labels(roofs);
  const std::string title = chart_title(document, options, device);
  const std::string subtitle = chart_subtitle(document, plotted, device);

  Svg chart;
  std::vector<Box> obstacles;  // label boxes and markers, for placing point labels
  draw_axes(chart, frame);
  draw_title(chart, frame, title, subtitle);
  draw_roofs(chart, roofs, frame, device, obstacles);
  draw_points(chart, plotted, frame, obstacles);
  Svg table;
  const double total_height = draw_legend_table(table, frame, points, plotted, device, source);
  return svg_document(frame, total_height, title, subtitle, chart.str() + table.str());
}

std::string roofline_svg_file(const std::string& path, RooflineOptions options) {
  if (options.source.empty()) options.source = path;
  return roofline_svg(ResultsDocument::load(path), options);
}

}  // namespace dlbench
