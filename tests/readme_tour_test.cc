// README.md's tour, run: every `build/dlbench ...` command of the section "A tour" (its
// "Distributed" part included) runs with this build's binary, and the real output must have the
// shape the README shows: the exit status, the table and scaling-table headers column for
// column, every labelled line kind (`repro:`, `comm:`, `quality:`, ...), the `label:` lines of
// describe and info, the workloads and parameters of list, the fields of the machine line, the
// summary line and the CSV header's first columns. Figures are not compared: they belong to the
// README's machine; nor are `note:` lines, which say how one measurement went (noisy, contended). A
// README that drifts from the product fails here, naming the README line.
//
// The commands are rewritten to run quickly and touch nothing outside a temporary folder; the
// rewrites keep the output's shape:
//   - `run`: quick run rules are appended (--min-time 0 --min-steps 2 --repeats 1
//     --warmup-steps 0 --warmup-time 0) and --no-peak (no ceiling measurement); the results go
//     into a temporary folder (`-o` added, or a README `-o` path moved there, file name kept);
//     `size=small` becomes `size=tiny` (`size=tiny batch=4` under `--scaling strong`, so that
//     each of 2 ranks still trains on 2 images); `mode=quality` gets `dataset=generated
//     max_epochs=1` (no MNIST download; one epoch still evaluates, logs and bounds).
//   - `show results/....json`: the results file the tour's latest `run` wrote.
//   - Every command: DLBENCH_CACHE_DIR and DLBENCH_DATA_DIR name empty temporary folders and
//     DLBENCH_NO_PEAK=1, so no user cache or data set is read or written.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/strings.h"
#include "test_util.h"

namespace dlbench {
namespace {

namespace fs = std::filesystem;

const char* kReadme = DLBENCH_SOURCE_DIR "/README.md";
const std::vector<std::string> kQuickRules = {"--min-time",    "0", "--min-steps",    "2",
                                              "--repeats",     "1", "--warmup-steps", "0",
                                              "--warmup-time", "0", "--no-peak"};

/// One `build/dlbench ...` command of the tour and the output the README shows after it.
struct TourCommand {
  int line = 0;                     // README.md line of the command
  std::string text;                 // as the README shows it (continuation lines joined)
  std::vector<std::string> output;  // the README's output lines
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::string trim_left(const std::string& text) {
  size_t start = text.find_first_not_of(' ');
  return start == std::string::npos ? "" : text.substr(start);
}

/// A fenced block of the tour: its language ("" for plain), first line number and lines.
struct Block {
  std::string lang;
  int line = 0;
  std::vector<std::string> lines;
};

/// The fenced blocks between "## A tour" and the next level-2 heading.
std::vector<Block> tour_blocks(const std::string& readme) {
  std::vector<std::string> lines = lines_of(readme);
  std::vector<Block> blocks;
  bool in_tour = false;
  Block* open = nullptr;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (open == nullptr && starts_with(line, "## ")) {
      if (in_tour) break;
      in_tour = line == "## A tour";
      continue;
    }
    if (!in_tour) continue;
    if (starts_with(line, "```")) {
      if (open == nullptr) {
        blocks.push_back(Block{trim(line.substr(3)), static_cast<int>(i) + 2, {}});
        open = &blocks.back();
      } else {
        open = nullptr;
      }
    } else if (open != nullptr) {
      open->lines.push_back(line);
    }
  }
  return blocks;
}

/// Joins a command whose line ends in `\` with the lines that continue it; `i` moves to the last.
std::string joined_command(const std::vector<std::string>& lines, size_t& i, std::string first) {
  std::string text = trim(first);
  while (!text.empty() && text.back() == '\\' && i + 1 < lines.size()) {
    text.pop_back();
    text = trim(text) + " " + trim(lines[++i]);
  }
  return text;
}

/// The tour's commands: `$ build/dlbench ...` lines of plain blocks, with the lines up to the
/// next `$ ` line as output, and `build/dlbench ...` lines of ```sh blocks, with the next plain
/// block as output. Other `$ ` lines (make) are not dlbench commands; plain blocks after neither
/// (excerpts of suites) are not output.
std::vector<TourCommand> tour_commands(const std::string& readme) {
  std::vector<TourCommand> commands;
  int awaiting_output = -1;  // the ```sh command whose output the next plain block shows
  for (const Block& block : tour_blocks(readme)) {
    int pending = awaiting_output;
    awaiting_output = -1;
    if (block.lang == "sh") {
      for (size_t i = 0; i < block.lines.size(); ++i) {
        if (!starts_with(trim(block.lines[i]), "build/dlbench ")) continue;
        int line = block.line + static_cast<int>(i);
        commands.push_back(TourCommand{line, joined_command(block.lines, i, block.lines[i]), {}});
        awaiting_output = static_cast<int>(commands.size()) - 1;
      }
      continue;
    }
    if (!block.lang.empty()) continue;
    bool has_prompt = std::any_of(block.lines.begin(), block.lines.end(),
                                  [](const std::string& l) { return starts_with(l, "$ "); });
    if (!has_prompt) {
      if (pending >= 0) commands[pending].output = block.lines;
      continue;
    }
    TourCommand* current = nullptr;
    for (size_t i = 0; i < block.lines.size(); ++i) {
      const std::string& line = block.lines[i];
      if (starts_with(line, "$ ")) {
        int number = block.line + static_cast<int>(i);
        std::string text = joined_command(block.lines, i, line.substr(2));
        current = nullptr;
        if (starts_with(text, "build/dlbench ")) {
          commands.push_back(TourCommand{number, text, {}});
          current = &commands.back();
        }
      } else if (current != nullptr) {
        current->output.push_back(line);
      }
    }
  }
  return commands;
}

/// Splits a command line the way a shell does for these commands: words, 'single' and
/// "double" quotes, backslash escapes, and a `#` word that starts a comment.
std::vector<std::string> shell_words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(word);
      word.clear();
      in_word = false;
    } else if (c == '#' && !in_word) {
      break;
    } else if (c == '\'') {
      size_t end = text.find('\'', i + 1);
      if (end == std::string::npos) end = text.size();
      word += text.substr(i + 1, end - i - 1);
      in_word = true;
      i = end;
    } else if (c == '"') {
      in_word = true;
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\' && i + 1 < text.size() &&
            std::string("\"\\$`").find(text[i + 1]) != std::string::npos) {
          ++i;
        }
        word += text[i];
      }
    } else if (c == '\\' && i + 1 < text.size()) {
      word += text[++i];
      in_word = true;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(word);
  return words;
}

std::string shell_quote(const std::string& word) {
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

/// The quick, self-contained form of a tour command's arguments (see the top of this file).
/// `latest_results` is the file the latest `run` wrote; a `run` sets `results` to its own.
std::vector<std::string> rewritten(std::vector<std::string> args, const std::string& dir, int index,
                                   const std::string& latest_results, std::string* results) {
  if (args.empty()) return args;
  if (args[0] == "show") {
    for (std::string& arg : args) {
      if (starts_with(arg, "results/") && arg.size() > 5 && arg.substr(arg.size() - 5) == ".json" &&
          !latest_results.empty()) {
        arg = latest_results;
      }
    }
    return args;
  }
  if (args[0] != "run") return args;
  // Strong scaling splits a preset's batch over the ranks: a tiny preset's would leave
  // ResNet-50 one image per rank, which batch norm cannot train on.
  bool strong = false;
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    strong |= args[i] == "--scaling" && args[i + 1] == "strong";
  }
  const std::string tiny = strong ? "size=tiny batch=4" : "size=tiny";
  std::vector<std::string> out;
  bool has_out = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if ((arg == "-o" || arg == "--out") && i + 1 < args.size()) {
      has_out = true;
      *results = dir + "/" + fs::path(args[++i]).filename().string();
      out.push_back(arg);
      out.push_back(*results);
      continue;
    }
    if (arg == "size=small") {
      std::vector<std::string> words = split_whitespace(tiny);
      out.insert(out.end(), words.begin(), words.end());
      continue;
    }
    arg = replace_all(arg, "size=small", tiny);
    if (arg.find("mode=quality") == std::string::npos) {
      out.push_back(arg);
    } else if (arg.find(' ') != std::string::npos) {
      out.push_back(arg + " dataset=generated max_epochs=1");
    } else {
      out.insert(out.end(), {arg, "dataset=generated", "max_epochs=1"});
    }
  }
  if (!has_out) {
    *results = dir + "/tour-" + std::to_string(index) + ".json";
    out.insert(out.end(), {"-o", *results});
  }
  out.insert(out.end(), kQuickRules.begin(), kQuickRules.end());
  return out;
}

/// The kind of a labelled line: its text up to the first ": " (or a final ':'), when that is a
/// short label ("repro:", "FLOPs per step:", "curve (epoch:"), or "dlbench: error:"; else "".
std::string label_of(const std::string& line) {
  std::string text = trim_left(line);
  if (starts_with(text, "dlbench: error:")) return "dlbench: error:";
  size_t colon = text.find(':');
  while (colon != std::string::npos && colon + 1 < text.size() && text[colon + 1] != ' ') {
    colon = text.find(':', colon + 1);
  }
  if (colon == std::string::npos || colon == 0 || colon > 40) return "";
  std::string label = text.substr(0, colon);
  if (!std::isalpha(static_cast<unsigned char>(label[0])) ||
      label.find("  ") != std::string::npos) {
    return "";
  }
  for (char c : label) {
    if (!std::isalnum(static_cast<unsigned char>(c)) &&
        std::string(" /()_-").find(c) == std::string::npos) {
      return "";
    }
  }
  return label + ":";
}

/// A summary line (`1 passed, 0 failed, ...`) with its counts written N; "" for other lines.
std::string summary_shape(const std::string& line) {
  static const std::regex start(R"(\d+ passed\b.*)"), count(R"(\d+)");
  std::string text = trim(line);
  return std::regex_match(text, start) ? std::regex_replace(text, count, "N") : "";
}

/// A header's column names: the fields between runs of two or more spaces.
std::vector<std::string> columns_of(const std::string& header) {
  std::vector<std::string> columns;
  std::string text = trim(header);
  size_t start = 0;
  while (start < text.size()) {
    size_t gap = text.find("  ", start);
    columns.push_back(text.substr(start, gap - start));
    if (gap == std::string::npos) break;
    start = text.find_first_not_of(' ', gap);
  }
  return columns;
}

/// A table header: the results table's (`#  workload ...`) or the scaling table's
/// (`ranks  status ...`).
bool is_header(const std::string& line) {
  std::vector<std::string> columns = columns_of(line);
  return columns.size() >= 3 && (columns[0] == "#" || columns[0] == "ranks");
}

/// `dlbench list`: each workload (and "every workload also takes") with its parameter names.
std::map<std::string, std::set<std::string>> listed(const std::vector<std::string>& lines) {
  std::map<std::string, std::set<std::string>> workloads;
  std::string current;
  for (const std::string& line : lines) {
    if (line.empty() || trim(line) == "...") continue;
    if (line[0] != ' ') {
      current = line == "every workload also takes:" ? line : split_whitespace(line)[0];
      workloads[current];
    } else if (!current.empty()) {
      workloads[current].insert(split_whitespace(line)[0]);
    }
  }
  return workloads;
}

/// The first lines of a text, for a failure message.
std::string head(const std::string& text, size_t lines = 40) {
  std::vector<std::string> all = lines_of(text);
  if (all.size() <= lines) return text;
  all.resize(lines);
  return join(all, "\n") + "\n[... " + std::to_string(lines_of(text).size() - lines) +
         " more lines]\n";
}

/// Everything in which the real output of `args` departs from the shape `command`'s README
/// output shows; empty when it has that shape.
std::vector<std::string> departures(const TourCommand& command,
                                    const std::vector<std::string>& args,
                                    const testing::Command& real) {
  std::vector<std::string> problems;
  std::vector<std::string> shown;
  for (const std::string& line : command.output) {
    if (trim(line) != "...") shown.push_back(line);
  }
  std::vector<std::string> out = lines_of(real.out), all = lines_of(real.out + "\n" + real.err);

  // The exit status: 2 for bad input (the README shows its error line), 0 otherwise.
  bool bad_input = std::any_of(shown.begin(), shown.end(), [](const std::string& l) {
    return starts_with(trim_left(l), "dlbench: error:");
  });
  int expected_status = bad_input ? 2 : 0;
  if (real.exit_code != expected_status) {
    problems.push_back("exit status " + std::to_string(real.exit_code) + ", expected " +
                       std::to_string(expected_status));
  }

  // A problem on a CUDA device is SKIPPED, with its reason, by a build without CUDA.
  bool names_cuda = std::any_of(args.begin(), args.end(), [](const std::string& a) {
    return a.find("device=cuda") != std::string::npos;
  });
#ifdef DLBENCH_WITH_CUDA
  const bool cuda_build = true;
#else
  const bool cuda_build = false;
#endif
  if (names_cuda && !cuda_build && real.out.find(" SKIPPED ") == std::string::npos) {
    problems.push_back("a CUDA problem in a build without CUDA: no SKIPPED row");
  }

  // Every labelled line kind the README shows.
  std::set<std::string> real_labels;
  for (const std::string& line : all) real_labels.insert(label_of(line));
  std::set<std::string> reported;
  for (const std::string& line : shown) {
    std::string label = label_of(line);
    if (label.empty() || reported.count(label)) continue;
    if (names_cuda && cuda_build && label == "reason:") continue;  // it may run here
    // Notes report the conditions of one measurement (noisy, contended): another run may have
    // none, so the README may show one that this run does not print.
    if (label == "note:") continue;
    reported.insert(label);
    if (!real_labels.count(label)) {
      problems.push_back("no `" + label + "` line (README shows \"" + trim(line) + "\")");
    }
  }

  // The summary line, counts aside.
  std::set<std::string> real_summaries;
  for (const std::string& line : all) real_summaries.insert(summary_shape(line));
  for (const std::string& line : shown) {
    std::string shape = summary_shape(line);
    if (!shape.empty() && !real_summaries.count(shape)) {
      problems.push_back("no summary line `" + shape + "`");
    }
  }

  // Table headers, column for column.
  std::vector<std::vector<std::string>> real_headers;
  for (const std::string& line : out) {
    if (is_header(line)) real_headers.push_back(columns_of(line));
  }
  for (const std::string& line : shown) {
    if (!is_header(line)) continue;
    std::vector<std::string> columns = columns_of(line);
    if (std::find(real_headers.begin(), real_headers.end(), columns) != real_headers.end()) {
      continue;
    }
    std::string found;
    for (const auto& h : real_headers) {
      if (h.front() == columns.front()) found += "\n      real: " + join(h, " | ");
    }
    problems.push_back(
        "no table header with the columns " + join(columns, " | ") +
        (found.empty() ? std::string(" (the real output has no such table)") : found));
  }

  // The machine line: the same number of `|`-separated fields.
  if (!shown.empty() && shown[0].find(" | ") != std::string::npos) {
    size_t fields = std::count(shown[0].begin(), shown[0].end(), '|') + 1;
    size_t real_fields =
        out.empty() ? 0 : std::count(out[0].begin(), out[0].end(), '|') + (out[0].empty() ? 0 : 1);
    if (real_fields != fields) {
      problems.push_back("the machine line has " + std::to_string(real_fields) +
                         " `|`-separated field(s), README shows " + std::to_string(fields) +
                         " (\"" + shown[0] + "\")");
    }
  }

  const std::string sub = args.empty() ? "" : args[0];
  // `list`: every workload and parameter shown.
  if (sub == "list") {
    auto expected = listed(shown), got = listed(out);
    for (const auto& [workload, params] : expected) {
      if (!got.count(workload)) {
        problems.push_back("workload `" + workload + "` is not listed");
        continue;
      }
      for (const std::string& param : params) {
        if (!got[workload].count(param)) {
          problems.push_back("`" + workload + "` lists no parameter `" + param + "`");
        }
      }
    }
  }
  // `describe`: the first line is the problem, of the same workload.
  if (sub == "describe" && !shown.empty()) {
    std::string workload = split_whitespace(shown[0])[0];
    if (out.empty() || !starts_with(out[0], workload + " ")) {
      problems.push_back("the first line does not name the problem `" + workload + " ...`");
    }
  }
  // `show --format csv`: the header's first columns, up to the README's `...`.
  if (sub == "show" && std::find(args.begin(), args.end(), "csv") != args.end() && !shown.empty()) {
    std::vector<std::string> expected = split(shown[0], ',');
    auto elided = std::find(expected.begin(), expected.end(), "...");
    expected.erase(elided, expected.end());
    std::vector<std::string> got = out.empty() ? std::vector<std::string>() : split(out[0], ',');
    if (got.size() < expected.size() ||
        !std::equal(expected.begin(), expected.end(), got.begin())) {
      problems.push_back("the CSV header does not begin " + join(expected, ","));
    }
    if (out.size() < shown.size()) {
      problems.push_back("the CSV has " + std::to_string(out.size()) + " line(s), README shows " +
                         std::to_string(shown.size()));
    }
  }
  return problems;
}

std::vector<TourCommand> readme_tour() {
  std::string readme = testing::read_text(kReadme);
  EXPECT_FALSE(readme.empty()) << "cannot read " << kReadme;
  return tour_commands(readme);
}

TEST(ReadmeTour, FindsTheTourCommandsAndTheOutputEachShows) {
  std::vector<TourCommand> commands = readme_tour();
  // The tour shows a dozen commands; far fewer means the parser lost them, and the test of
  // their shapes would pass without checking anything.
  EXPECT_GE(commands.size(), 8u) << "commands found in README.md's tour";
  std::set<std::string> subcommands;
  for (const TourCommand& c : commands) {
    EXPECT_FALSE(c.output.empty())
        << "README.md:" << c.line << " `" << c.text << "` shows no output";
    std::vector<std::string> words = shell_words(c.text);
    ASSERT_GE(words.size(), 2u) << "README.md:" << c.line;
    subcommands.insert(words[1]);
  }
  for (const char* sub : {"list", "describe", "run", "show", "info"}) {
    EXPECT_TRUE(subcommands.count(sub)) << "no `build/dlbench " << sub << "` in the tour";
  }
  // The parser's own rules, on a small tour.
  std::vector<TourCommand> small = tour_commands(
      "## A tour\n```\n$ make data   # not dlbench\n$ build/dlbench run \"a b\" \\\n"
      "      'c d'\nline 1\n$ build/dlbench info\ncpu: x\n...\n```\n```\n #  excerpt\n```\n"
      "```sh\nbuild/dlbench run --nproc 2 x\n```\ntext\n```\n#  workload\n```\n## Next\n"
      "```\n$ build/dlbench list\n```\n");
  ASSERT_EQ(small.size(), 3u);
  EXPECT_EQ(small[0].text, "build/dlbench run \"a b\" 'c d'");
  EXPECT_EQ(shell_words(small[0].text),
            (std::vector<std::string>{"build/dlbench", "run", "a b", "c d"}));
  EXPECT_EQ(small[0].output, std::vector<std::string>{"line 1"});
  EXPECT_EQ(small[1].output, (std::vector<std::string>{"cpu: x", "..."}));
  EXPECT_EQ(small[2].output, std::vector<std::string>{"#  workload"});
}

TEST(ReadmeTour, EveryCommandRunsAndShowsTheDocumentedShape) {
  std::vector<TourCommand> commands = readme_tour();
  ASSERT_FALSE(commands.empty());
  const std::string dir = testing::temp_dir();
  fs::create_directories(dir + "/cache");
  fs::create_directories(dir + "/data");
  testing::ScopedEnv cache("DLBENCH_CACHE_DIR", (dir + "/cache").c_str());
  testing::ScopedEnv data("DLBENCH_DATA_DIR", (dir + "/data").c_str());
  testing::ScopedEnv no_peak("DLBENCH_NO_PEAK", "1");
  std::string latest_results;
  auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < commands.size(); ++i) {
    const TourCommand& c = commands[i];
    std::vector<std::string> words = shell_words(c.text);
    std::string results;
    std::vector<std::string> args(words.begin() + 1, words.end());
    args = rewritten(args, dir, static_cast<int>(i), latest_results, &results);
    std::string quoted;
    for (const std::string& arg : args) quoted += " " + shell_quote(arg);
    auto command_start = std::chrono::steady_clock::now();
    testing::Command real = testing::dlbench(quoted);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - command_start).count();
    std::printf("[   TOUR   ] %5.1f s  README.md:%d  dlbench%s\n", seconds, c.line, quoted.c_str());
    if (!results.empty() && fs::exists(results)) latest_results = results;

    std::vector<std::string> problems = departures(c, args, real);
    if (!problems.empty()) {
      ADD_FAILURE() << "README.md:" << c.line << " `" << c.text << "` (run as `dlbench" << quoted
                    << "`): the output departs from the "
                    << "README's\n  - " << join(problems, "\n  - ")
                    << "\nFix README.md or the product.\n--- real stdout ---\n"
                    << head(real.out) << "--- real stderr ---\n"
                    << head(real.err);
    }
  }
  std::printf("[   TOUR   ] %zu commands in %.1f s\n", commands.size(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

}  // namespace
}  // namespace dlbench
