#include "cli/commands.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "cli/cli_common.h"
#include "cli/subcommands.h"
#include "core/build_info.h"
#include "core/error.h"
#include "core/strings.h"
#include "harness/isolation.h"

namespace dlbench {

namespace {

std::string version_line() {
  return std::string("dlbench ") + DLBENCH_VERSION + " (" + git_commit() + ")";
}

/// An unknown first word gets one line naming the nearest command; "" when it is known (or an
/// option).
std::string unknown_command(CLI::App& app, int argc, char** argv) {
  if (argc <= 1 || argv[1][0] == '-' || std::string(argv[1]) == "_child") return "";
  std::vector<std::string> names;
  for (const CLI::App* sub :
       app.get_subcommands([](CLI::App* a) { return !a->get_group().empty(); })) {
    names.push_back(sub->get_name());
  }
  if (std::find(names.begin(), names.end(), argv[1]) != names.end()) return "";
  std::string suggestion = nearest(argv[1], names);
  return "dlbench: error: unknown command " + single_quoted(argv[1]) +
         (suggestion.empty() ? "" : " (did you mean '" + suggestion + "'?)") +
         "; commands: " + join(names, ", ");
}

/// Parses the command line; returns the exit status when parsing already answered it (help,
/// version, a bad option), else nullopt.
std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    print(app.help());
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    print(app.help("", CLI::AppFormatMode::All));
    return kExitOk;
  } catch (const CLI::CallForVersion&) {
    print(version_line() + "\n");
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    std::string message = e.what();
    if (message.empty()) message = "bad command line";
    // The checks say "must ...": "--threads: must be ..." reads "--threads must be ...".
    size_t must = message.find(": must ");
    if (must != std::string::npos && message.rfind("--", 0) == 0) message.erase(must, 1);
    // CLI11 echoes what was typed: make it one printable line of bounded length.
    print_error_line("dlbench: error: " + printable(message, 400) + " (see 'dlbench --help')");
    return kExitUsage;
  }
  return std::nullopt;
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"dlbench: a deep-learning benchmark suite (micro to whole models, CPU and CUDA)",
               "dlbench"};
  app.require_subcommand(1);
  app.set_version_flag("--version", version_line());
  std::vector<Command> commands = {add_list_command(app),     add_run_command(app),
                                   add_peak_command(app),     add_describe_command(app),
                                   add_info_command(app),     add_show_command(app),
                                   add_roofline_command(app), add_data_command(app)};

  std::vector<std::string> child_files;  // internal: the isolated problem runner
  CLI::App* child = app.add_subcommand("_child", "");
  child->group("");
  child->add_option("files", child_files)->expected(2)->required();

  std::string unknown = unknown_command(app, argc, argv);
  if (!unknown.empty()) {
    print_error_line(unknown);
    return kExitUsage;
  }
  if (std::optional<int> answered = parse(app, argc, argv)) return *answered;
  try {
    if (child->parsed()) return run_child(child_files[0], child_files[1]);
    for (const Command& command : commands) {
      if (command.app->parsed()) return command.run(CommandLine(argv, argv + argc));
    }
  } catch (const Error& e) {
    print_error_line("dlbench: error: " + printable(e.what(), kMaxMessageBytes));
    return kExitUsage;
  }
  return kExitUsage;
}

}  // namespace dlbench
