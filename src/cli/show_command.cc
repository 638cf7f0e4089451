// `dlbench show`: renders a saved results file again (table, JSON, CSV or Markdown).
#include "cli/subcommands.h"

#include <memory>

#include "cli/cli_common.h"
#include "core/error.h"
#include "core/result.h"
#include "report/report.h"

namespace dlbench {

Command add_show_command(CLI::App& app) {
  struct Options {
    std::string path, format = "table";
  };
  auto o = std::make_shared<Options>();
  CLI::App* show = app.add_subcommand("show", "re-render a saved results file");
  show->add_option("file", o->path, "results JSON")->required();
  show->add_option("--format", o->format, "table, json, csv or md")
      ->check(CLI::IsMember(report_formats()));
  return {show, [o](const CommandLine&) {
            print(render(ResultsDocument::load(o->path), o->format));
            return kExitOk;
          }};
}

}  // namespace dlbench
