#include "cli/cli_common.h"

#include <fmt/core.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/strings.h"
#include "core/system_info.h"

namespace dlbench {

const char* const kDataDirHelp =
    "where data sets live (default $DLBENCH_DATA_DIR, else ~/.cache/dlbench/data)";

void print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void print_error_line(const std::string& text) {
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
}

CLI::Validator integer_option(int64_t min, int64_t max) {
  return CLI::Validator(
      [min, max](std::string& input) -> std::string {
        char* end = nullptr;
        errno = 0;
        long long value = std::strtoll(input.c_str(), &end, 10);
        bool integer = !input.empty() && errno == 0 && end == input.c_str() + input.size() &&
                       !std::isspace(static_cast<unsigned char>(input[0]));
        if (integer && value >= min && value <= max) return "";
        std::string expected = min == 1   ? "a positive integer"
                               : min == 0 ? "a non-negative integer"
                                          : fmt::format("an integer >= {}", min);
        if (integer && value > max) expected += fmt::format(" (at most {})", max);
        return "must be " + expected + ", not " + single_quoted(input);
      },
      min == 1 ? "POSITIVE INTEGER" : "INTEGER");
}

CLI::Validator number_option(bool positive, const std::string& unit) {
  return CLI::Validator(
      [positive, unit](std::string& input) -> std::string {
        auto value = parse_double(input);
        if (value && (positive ? *value > 0 : *value >= 0)) return "";
        return std::string("must be a finite ") + (positive ? "positive" : "non-negative") +
               " number" + (unit.empty() ? "" : " of " + unit) + ", not " + single_quoted(input);
      },
      positive ? "POSITIVE" : "NONNEGATIVE");
}

CLI::Validator threads_option() {
  return CLI::Validator(
      [](std::string& input) -> std::string {
        std::string problem = integer_option(1)(input);
        if (!problem.empty()) return problem;
        problem = thread_count_problem(std::strtoll(input.c_str(), nullptr, 10));
        return problem.empty() ? "" : "must be " + problem + ", not " + single_quoted(input);
      },
      "POSITIVE INTEGER");
}

void warn_if_oversubscribed(const std::vector<Problem>& problems) {
  int most = 0;
  for (const Problem& problem : problems) {
    auto threads = parse_int(problem.get("threads"));
    if (threads) most = std::max<int>(most, static_cast<int>(*threads));
  }
  if (most <= usable_cpu_count()) return;
  print_error_line(
      fmt::format("dlbench: warning: threads={} is more than the {} CPUs this process may use "
                  "(sched_getaffinity): threads share CPUs, so the figures measure "
                  "oversubscription",
                  most, usable_cpu_count()));
}

void check_data_dir(const std::string& dir, bool may_create) {
  if (dir.empty()) return;
  struct stat info {};
  if (::stat(dir.c_str(), &info) == 0) {
    if (!S_ISDIR(info.st_mode)) {
      throw Error("--data-dir " + single_quoted(dir) + " is not a directory");
    }
    return;
  }
  if (errno != ENOENT || !may_create) {
    throw Error("--data-dir " + single_quoted(dir) + ": " + std::strerror(errno));
  }
}

}  // namespace dlbench
