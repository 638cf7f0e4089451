// Roofline chart: places every PASSED result that counts both FLOPs and bytes on log-log axes
// (arithmetic intensity vs achieved FLOP/s) under the device's compute and bandwidth ceilings,
// and renders it as standalone SVG 1.1. Reads only the results document. See docs/roofline.md.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace dlbench {

/// How `roofline_svg` draws.
struct RooflineOptions {
  std::string title;   ///< replaces the generated "Roofline: <host> | <device>" title when set
  std::string device;  ///< "cpu", "cuda:0"; "" = the device of the first plottable result
  int width = 1000;    ///< SVG width in px
  int height = 600;    ///< height of the chart panel in px; the legend table adds rows below it
  std::string source;  ///< file name for messages and the footer; "" = "the results document"
};

/// One result of the document, as the roofline sees it. `roofline_points` returns one per
/// result, in document order; `plotted` says whether it is on the chart, `excluded` why not.
struct RooflinePoint {
  size_t index = 0;  ///< 1-based position in document.results (the `#` of `dlbench show`)
  std::string problem;
  std::string workload;
  std::string device;  ///< params["device"] ("cpu" when absent)
  std::string dtype;   ///< work.dtype: picks the compute roof
  bool plotted = false;
  std::string excluded;              ///< why it is not plotted ("" when plotted)
  double intensity = 0;              ///< work.flops / work.bytes, FLOP/B
  double flops = 0;                  ///< achieved FLOP/s (metric "flops")
  std::string verdict;               ///< result.bound->verdict, "" when there is none
  std::optional<Ceiling> compute;    ///< the compute roof of this point (measured preferred)
  std::optional<Ceiling> bandwidth;  ///< the bandwidth roof of this point (measured preferred)
  double attainable = 0;   ///< min(compute, intensity x bandwidth) from the roofs known; 0: none
  std::string limit;       ///< which roof `attainable` is: "compute", "memory" or ""
  double pct_of_roof = 0;  ///< 100 x flops / attainable (0 when attainable is 0)
};

/// Every result of `document` with its roofline coordinates and the reason it is left off.
/// A result is plotted when it is PASSED, runs on `device` ("" = the device of the first result
/// that otherwise qualifies), counts FLOPs and bytes per step and has a finite positive `flops`
/// metric. Roofs come from context["measured_ceilings"][device] when present, else from the
/// result's own ceilings.
std::vector<RooflinePoint> roofline_points(const ResultsDocument& document,
                                           const std::string& device);

/// The roofline chart with its legend table, as standalone SVG 1.1 text (no external fonts,
/// scripts or images). Throws Error when no result can be placed on the chart.
std::string roofline_svg(const ResultsDocument& document, const RooflineOptions& options = {});

/// Loads a results file and renders it (options.source defaults to `path`): the one call the
/// `dlbench roofline FILE.json` command needs. Throws Error (one line) on any problem.
std::string roofline_svg_file(const std::string& path, RooflineOptions options = {});

}  // namespace dlbench
