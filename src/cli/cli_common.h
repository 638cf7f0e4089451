// What every subcommand of the command line shares: its output lines, the checks of its
// options, and the shape of a subcommand (its CLI11 app and its action).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/problem.h"

namespace dlbench {

/// The whole command line, argv[0] first.
using CommandLine = std::vector<std::string>;

/// One subcommand: the CLI11 app its options were added to, and what runs when it was parsed
/// (given the whole command line; returns the exit status; throws Error on bad input).
struct Command {
  CLI::App* app = nullptr;
  std::function<int(const CommandLine&)> run;
};

/// Writes `text` to standard output as it is.
void print(const std::string& text);
/// Writes one line to standard error.
void print_error_line(const std::string& text);

// CLI11's PositiveNumber and NonNegativeNumber compare as doubles: they let "nan" through (every
// comparison with NaN is false) and print their range as a 309-digit number. These say what is
// expected in words; the message starts with "must", after the option's name.

/// An integer option's check: at least `min` and at most `max` (an int's range by default).
CLI::Validator integer_option(int64_t min, int64_t max = INT32_MAX);
/// A number option's check: finite (no NaN, no infinity), and above 0 when `positive`, else at
/// least 0. `unit` ("seconds") is named in the message.
CLI::Validator number_option(bool positive, const std::string& unit = "");
/// The check of a --threads option: a positive integer up to max_thread_count().
CLI::Validator threads_option();

/// One warning on stderr when a problem asks for more threads than this process has CPUs: its
/// figures then measure oversubscription.
void warn_if_oversubscribed(const std::vector<Problem>& problems);

/// --data-dir: an existing directory (`may_create`: or a path where one can be made). Throws
/// Error otherwise.
void check_data_dir(const std::string& dir, bool may_create);

/// The help text of every --data-dir option.
extern const char* const kDataDirHelp;

}  // namespace dlbench
