#include "harness/suite.h"

#include <fmt/core.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/strings.h"

namespace dlbench {

namespace {

/// Suites and problem lists are short: a larger file is not one.
constexpr int64_t kMaxTextFileBytes = int64_t{16} << 20;

bool is_file(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

/// An Error whose message already starts with "FILE:LINE: ".
class LocatedError : public Error {
 public:
  using Error::Error;
};

/// "suites/x.yaml:7" for a node of the suite at `path`.
std::string location(const std::string& path, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.line < 0) return printable(path);
  return fmt::format("{}:{}", printable(path), mark.line + 1);
}

std::string scalar(const YAML::Node& node, const std::string& where) {
  if (!node.IsScalar()) throw Error(where + " must be a string");
  return node.as<std::string>();
}

const std::set<std::string> kRunKeys = {"warmup_steps", "warmup_time", "min_steps", "min_time",
                                        "max_time",     "repeats",     "cv_bound",  "timeout"};

}  // namespace

std::vector<std::string> suite_search_path() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("DLBENCH_SUITE_PATH")) {
    for (const auto& dir : split(env, ':')) {
      if (!dir.empty()) dirs.push_back(dir);
    }
  }
  dirs.push_back("suites");
  dirs.push_back(std::string(DLBENCH_SOURCE_DIR) + "/suites");
  return dirs;
}

std::vector<std::string> inputs_search_path() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("DLBENCH_INPUTS_PATH")) {
    for (const auto& dir : split(env, ':')) {
      if (!dir.empty()) dirs.push_back(dir);
    }
  }
  dirs.push_back("inputs");
  dirs.push_back(std::string(DLBENCH_SOURCE_DIR) + "/inputs");
  return dirs;
}

std::vector<Problem> load_problem_list(const std::string& name_or_path) {
  std::vector<Problem> problems;
  for (ListedProblem& listed : load_problem_list_entries(name_or_path)) {
    problems.push_back(std::move(listed.problem));
  }
  return problems;
}

std::vector<ListedProblem> load_problem_list_entries(const std::string& name_or_path) {
  std::string path;
  if (is_file(name_or_path)) {
    path = name_or_path;
  } else {
    for (const auto& dir : inputs_search_path()) {
      if (is_file(dir + "/" + name_or_path)) {
        path = dir + "/" + name_or_path;
        break;
      }
    }
  }
  if (path.empty()) {
    throw Error("cannot find problem list " + single_quoted(name_or_path) + " (looked in " +
                join(inputs_search_path(), ", ") + ")");
  }
  std::istringstream in(read_regular_file(path, "problem list", kMaxTextFileBytes));
  std::vector<ListedProblem> problems;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    std::string text = trim(line);
    if (text.empty() || text[0] == '#') continue;
    std::string origin = fmt::format("{}:{}", printable(path), number);
    try {
      problems.push_back({Problem::parse(text), origin});
    } catch (const Error& e) {
      throw Error(origin + ": " + e.what());
    }
  }
  if (problems.empty()) throw Error("problem list " + single_quoted(path) + " has no problems");
  return problems;
}

/// Parses a `run:` mapping of run rules (RunOptions keys) into JSON; throws Error.
nlohmann::json parse_run_rules(const YAML::Node& value) {
  if (!value.IsMap()) throw Error("'run' must be a mapping of run rules");
  nlohmann::json rules = nlohmann::json::object();
  for (const auto& rule : value) {
    std::string rule_key = rule.first.as<std::string>();
    if (!kRunKeys.count(rule_key)) {
      throw Error("unknown run rule '" + rule_key + "' (valid: " +
                  join(std::vector<std::string>(kRunKeys.begin(), kRunKeys.end()), ", ") + ")");
    }
    std::string text = scalar(rule.second, "run rule '" + rule_key + "'");
    auto number = rule_key == "timeout" || rule_key.find("time") != std::string::npos
                      ? parse_seconds(text)
                      : parse_double(text);
    if (!number || *number < 0) {
      throw Error("run rule '" + rule_key + "' has bad value '" + text + "'");
    }
    if (rule_key == "warmup_steps" || rule_key == "min_steps" || rule_key == "repeats") {
      bool at_least_one = rule_key != "warmup_steps";
      if (*number != static_cast<int>(*number) || (at_least_one && *number < 1)) {
        throw Error("run rule '" + rule_key + "' must be an integer" +
                    (at_least_one ? " >= 1" : " >= 0") + ", not '" + text + "'");
      }
      rules[rule_key] = static_cast<int>(*number);
    } else {
      rules[rule_key] = *number;
    }
  }
  return rules;
}

Suite load_suite(const std::string& name_or_path) {
  std::string path;
  bool looks_like_path = name_or_path.find('/') != std::string::npos ||
                         name_or_path.find(".yaml") != std::string::npos ||
                         name_or_path.find(".yml") != std::string::npos;
  if (looks_like_path) {
    if (!is_file(name_or_path))
      throw Error("cannot read suite file " + single_quoted(name_or_path));
    path = name_or_path;
  } else {
    for (const auto& dir : suite_search_path()) {
      std::string candidate = dir + "/" + name_or_path + ".yaml";
      if (is_file(candidate)) {
        path = candidate;
        break;
      }
    }
    if (path.empty()) {
      throw Error("unknown suite " + single_quoted(name_or_path) + " (looked in " +
                  join(suite_search_path(), ", ") + ")");
    }
  }

  YAML::Node root;
  try {
    root = YAML::Load(read_regular_file(path, "suite file", kMaxTextFileBytes));
  } catch (const YAML::Exception& e) {
    throw Error("suite " + single_quoted(path) + " is not valid YAML: " + e.what());
  }
  if (!root.IsMap())
    throw Error("suite " + single_quoted(path) + " must be a mapping with 'problems'");

  Suite suite;
  suite.path = path;
  std::string here = printable(path);  // the key being read, for messages
  try {
    for (const auto& item : root) {
      here = location(path, item.first);
      std::string key = item.first.as<std::string>();
      const YAML::Node& value = item.second;
      if (key == "name") {
        suite.name = scalar(value, "'name'");
      } else if (key == "description") {
        suite.description = scalar(value, "'description'");
      } else if (key == "run") {
        suite.run = parse_run_rules(value);
      } else if (key == "problems") {
        if (!value.IsSequence()) throw Error("'problems' must be a list");
        for (const auto& node : value) {
          const std::string where = location(path, node);
          SuiteEntry entry;
          entry.origin = where;
          try {
            if (node.IsScalar()) {
              entry.problem = Problem::parse(node.as<std::string>());
            } else if (node.IsMap() && node["inputs"]) {
              std::map<std::string, std::string> params;
              std::optional<double> timeout;
              for (const auto& field : node) {
                std::string field_key = field.first.as<std::string>();
                if (field_key == "params") {
                  if (!field.second.IsMap()) throw Error("'params' must be a mapping");
                  for (const auto& param : field.second) {
                    params[param.first.as<std::string>()] =
                        scalar(param.second, "parameter '" + param.first.as<std::string>() + "'");
                  }
                } else if (field_key == "timeout") {
                  timeout = parse_seconds(scalar(field.second, "'timeout'"));
                  if (!timeout || *timeout <= 0) throw Error("bad 'timeout'");
                } else if (field_key != "inputs") {
                  throw Error("unknown key '" + field_key +
                              "' in an inputs entry (valid: inputs, params, timeout)");
                }
              }
              for (ListedProblem listed :
                   load_problem_list_entries(scalar(node["inputs"], "'inputs'"))) {
                for (const auto& [key, value] : params) listed.problem.params[key] = value;
                SuiteEntry listed_entry;
                listed_entry.problem = listed.problem;
                listed_entry.timeout = timeout;
                listed_entry.origin = listed.origin + " (from " + where + ")";
                suite.entries.push_back(listed_entry);
              }
              continue;
            } else if (node.IsMap()) {
              if (!node["problem"]) throw Error("a mapping entry needs 'problem' or 'inputs'");
              for (const auto& field : node) {
                std::string field_key = field.first.as<std::string>();
                if (field_key != "problem" && field_key != "timeout" && field_key != "run") {
                  throw Error("unknown key '" + field_key + "' (valid: problem, timeout, run)");
                }
              }
              entry.problem = Problem::parse(scalar(node["problem"], "'problem'"));
              if (node["run"]) entry.run = parse_run_rules(node["run"]);
              if (node["timeout"]) {
                auto timeout = parse_seconds(scalar(node["timeout"], "'timeout'"));
                if (!timeout || *timeout <= 0) throw Error("bad 'timeout'");
                entry.timeout = *timeout;
              }
            } else {
              throw Error("expected a problem string or a mapping");
            }
          } catch (const LocatedError&) {
            throw;
          } catch (const Error& e) {
            throw LocatedError(where + ": " + e.what());
          }
          suite.entries.push_back(entry);
        }
      } else {
        throw Error("unknown key " + single_quoted(key) +
                    " (valid: name, description, run, problems)");
      }
    }
  } catch (const LocatedError&) {
    throw;
  } catch (const Error& e) {
    throw LocatedError(here + ": " + e.what());
  } catch (const YAML::Exception& e) {
    throw Error("suite " + single_quoted(path) + ": " + e.what());
  }
  if (suite.entries.empty()) throw Error("suite " + single_quoted(path) + " has no problems");
  if (suite.name.empty()) suite.name = name_or_path;
  return suite;
}

}  // namespace dlbench
