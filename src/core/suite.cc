#include "core/suite.h"

#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <set>

#include "core/error.h"
#include "core/strings.h"

namespace dlbench {

namespace {

bool is_file(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
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

Suite load_suite(const std::string& name_or_path) {
  std::string path;
  bool looks_like_path = name_or_path.find('/') != std::string::npos ||
                         name_or_path.find(".yaml") != std::string::npos ||
                         name_or_path.find(".yml") != std::string::npos;
  if (looks_like_path) {
    if (!is_file(name_or_path)) throw Error("cannot read suite file '" + name_or_path + "'");
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
      throw Error("unknown suite '" + name_or_path + "' (looked in " +
                  join(suite_search_path(), ", ") + ")");
    }
  }

  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw Error("suite '" + path + "' is not valid YAML: " + e.what());
  }
  if (!root.IsMap()) throw Error("suite '" + path + "' must be a mapping with 'problems'");

  Suite suite;
  suite.path = path;
  try {
    for (const auto& item : root) {
      std::string key = item.first.as<std::string>();
      const YAML::Node& value = item.second;
      if (key == "name") {
        suite.name = scalar(value, "'name'");
      } else if (key == "description") {
        suite.description = scalar(value, "'description'");
      } else if (key == "run") {
        if (!value.IsMap()) throw Error("'run' must be a mapping of run rules");
        for (const auto& rule : value) {
          std::string rule_key = rule.first.as<std::string>();
          if (!kRunKeys.count(rule_key)) {
            throw Error("unknown run rule '" + rule_key + "' (valid: " +
                        join(std::vector<std::string>(kRunKeys.begin(), kRunKeys.end()), ", ") +
                        ")");
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
            suite.run[rule_key] = static_cast<int>(*number);
          } else {
            suite.run[rule_key] = *number;
          }
        }
      } else if (key == "problems") {
        if (!value.IsSequence()) throw Error("'problems' must be a list");
        size_t index = 0;
        for (const auto& node : value) {
          ++index;
          std::string where = strprintf("problem #%zu", index);
          SuiteEntry entry;
          try {
            if (node.IsScalar()) {
              entry.problem = Problem::parse(node.as<std::string>());
            } else if (node.IsMap()) {
              if (!node["problem"]) throw Error("a mapping entry needs 'problem'");
              for (const auto& field : node) {
                std::string field_key = field.first.as<std::string>();
                if (field_key != "problem" && field_key != "timeout") {
                  throw Error("unknown key '" + field_key + "' (valid: problem, timeout)");
                }
              }
              entry.problem = Problem::parse(scalar(node["problem"], "'problem'"));
              if (node["timeout"]) {
                auto timeout = parse_seconds(scalar(node["timeout"], "'timeout'"));
                if (!timeout || *timeout <= 0) throw Error("bad 'timeout'");
                entry.timeout = *timeout;
              }
            } else {
              throw Error("expected a problem string or a mapping");
            }
          } catch (const Error& e) {
            throw Error(where + ": " + e.what());
          }
          suite.entries.push_back(entry);
        }
      } else {
        throw Error("unknown key '" + key + "' (valid: name, description, run, problems)");
      }
    }
  } catch (const Error& e) {
    throw Error("suite '" + path + "': " + e.what());
  } catch (const YAML::Exception& e) {
    throw Error("suite '" + path + "': " + e.what());
  }
  if (suite.entries.empty()) throw Error("suite '" + path + "' has no problems");
  if (suite.name.empty()) suite.name = name_or_path;
  return suite;
}

}  // namespace dlbench
