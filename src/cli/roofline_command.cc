// `dlbench roofline`: draws a saved results file's problems on the roofline of its machine.
#include "cli/subcommands.h"

#include <memory>

#include "cli/cli_common.h"
#include "core/error.h"
#include "core/safe_file.h"
#include "report/roofline.h"

namespace dlbench {

namespace {

int draw_roofline(const std::string& path, const std::string& out, RooflineOptions options) {
  std::string svg = roofline_svg_file(path, options);
  if (out.empty() || out == "-") {
    print(svg);
    return kExitOk;
  }
  write_file(out, svg, WriteOptions{0644, true, "the chart"});
  print_error_line("roofline: " + out);
  return kExitOk;
}

}  // namespace

Command add_roofline_command(CLI::App& app) {
  struct Options {
    std::string path, out;
    RooflineOptions chart;
  };
  auto o = std::make_shared<Options>();
  CLI::App* roofline = app.add_subcommand(
      "roofline", "draw a saved results file's problems on the roofline of its machine (SVG)");
  roofline->add_option("file", o->path, "results JSON")->required();
  roofline->add_option("--out,-o", o->out, "SVG file to write (default: stdout)");
  roofline->add_option("--device", o->chart.device, "which device's results to draw");
  roofline->add_option("--title", o->chart.title, "chart title");
  roofline->add_option("--width", o->chart.width, "width in pixels (>= 720)")
      ->check(CLI::Range(720, 10000));
  roofline->add_option("--height", o->chart.height, "chart height in pixels")
      ->check(CLI::Range(300, 10000));
  return {roofline, [o](const CommandLine&) { return draw_roofline(o->path, o->out, o->chart); }};
}

}  // namespace dlbench
