// The subcommands of `dlbench`, one file each: each adds its options to the app and returns
// what runs when it was parsed.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/cli_common.h"

namespace dlbench {

/// `dlbench list`
Command add_list_command(CLI::App& app);
/// `dlbench run`
Command add_run_command(CLI::App& app);
/// `dlbench peak`
Command add_peak_command(CLI::App& app);
/// `dlbench describe`
Command add_describe_command(CLI::App& app);
/// `dlbench info`
Command add_info_command(CLI::App& app);
/// `dlbench show`
Command add_show_command(CLI::App& app);
/// `dlbench roofline`
Command add_roofline_command(CLI::App& app);
/// `dlbench data list|fetch`
Command add_data_command(CLI::App& app);

}  // namespace dlbench
