// The dlbench command line: one subcommand per file (cli/*_command.cc), wired here.
#pragma once

namespace dlbench {

/// Runs the command line; returns the exit status (0 ok, 1 a problem FAILED, 2 bad input).
int run_cli(int argc, char** argv);

}  // namespace dlbench
