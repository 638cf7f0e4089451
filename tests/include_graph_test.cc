// The layers of src/ (docs/architecture.md): a folder includes only its own headers and those of
// the folders below it. The build enforces it (each folder's library publishes only its own
// folder); this test is the second guard, and it also catches a relative path ("../") that the
// build would let through.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace {

/// The folders each folder of src/ may include, besides its own (the allowed edges).
const std::map<std::string, std::set<std::string>>& allowed_edges() {
  static const std::map<std::string, std::set<std::string>> edges = {
      {"core", {}},
      {"data", {"core"}},
      {"nn", {"core"}},
      {"analysis", {"core"}},
      {"report", {"analysis", "core"}},
      {"harness", {"analysis", "data", "core"}},
      {"workloads", {"nn", "data", "core"}},
      {"cli", {"harness", "report", "analysis", "data", "core"}},
  };
  return edges;
}

/// Why `included` (the text between the quotes) may not be included from a file of `folder`, or
/// "" when it may.
std::string include_violation(const std::string& folder, const std::string& included) {
  if (included.find("..") != std::string::npos) return "a relative path leaves the folder";
  size_t slash = included.find('/');
  if (slash == std::string::npos) return "";  // a header beside the including file
  std::string target = included.substr(0, slash);
  if (target == folder) return "";
  const auto& edges = allowed_edges();
  if (!edges.count(target)) return "";  // not a folder of src/ (a library's own path)
  auto allowed = edges.find(folder);
  if (allowed == edges.end()) return "the folder " + folder + " is not a known layer";
  if (allowed->second.count(target)) return "";
  return folder + " may not include " + target +
         " (allowed: core and the edges in "
         "docs/architecture.md)";
}

TEST(IncludeGraph, TheRuleRejectsUpwardAndRelativeIncludes) {
  EXPECT_EQ(include_violation("harness", "core/problem.h"), "");
  EXPECT_EQ(include_violation("workloads", "nn/check.h"), "");
  EXPECT_EQ(include_violation("cli", "harness/runner.h"), "");
  EXPECT_EQ(include_violation("core", "core/strings.h"), "");
  EXPECT_NE(include_violation("core", "harness/runner.h"), "");
  EXPECT_NE(include_violation("analysis", "harness/runner.h"), "");
  EXPECT_NE(include_violation("workloads", "harness/process_group.h"), "");
  EXPECT_NE(include_violation("harness", "cli/commands.h"), "");
  EXPECT_NE(include_violation("nn", "data/loader.h"), "");
  EXPECT_NE(include_violation("data", "../harness/runner.h"), "");
}

TEST(IncludeGraph, NoFolderIncludesAFolderAboveIt) {
  const std::filesystem::path src = std::filesystem::path(DLBENCH_SOURCE_DIR) / "src";
  const std::regex include_line(R"re(^\s*#\s*include\s*"([^"]+)")re");
  int files = 0, includes = 0;
  std::set<std::string> folders_seen;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(src)) {
    if (!entry.is_regular_file()) continue;
    const std::string extension = entry.path().extension().string();
    if (extension != ".h" && extension != ".cc") continue;
    const std::string relative = std::filesystem::relative(entry.path(), src).string();
    const std::string folder = relative.substr(0, relative.find('/'));
    folders_seen.insert(folder);
    ++files;
    std::ifstream in(entry.path());
    std::string line;
    int line_number = 0;
    while (std::getline(in, line)) {
      ++line_number;
      std::smatch match;
      if (!std::regex_search(line, match, include_line)) continue;
      ++includes;
      std::string why = include_violation(folder, match[1]);
      EXPECT_EQ(why, "") << "src/" << relative << ":" << line_number << ": #include \"" << match[1]
                         << "\"";
    }
  }
  // The scan saw the tree, not an empty or wrong folder.
  EXPECT_GT(files, 100);
  EXPECT_GT(includes, 500);
  for (const auto& [folder, edges] : allowed_edges()) {
    EXPECT_TRUE(folders_seen.count(folder)) << "src/" << folder << " is missing";
  }
  for (const std::string& folder : folders_seen) {
    EXPECT_TRUE(allowed_edges().count(folder))
        << "src/" << folder << " has no place in the layers (add it to allowed_edges and "
        << "CMakeLists.txt)";
  }
}

}  // namespace
