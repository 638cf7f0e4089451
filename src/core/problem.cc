#include "core/problem.h"

#include <cctype>

#include "core/error.h"
#include "core/strings.h"

namespace dlbench {

bool split_assignment(const std::string& token, std::string* key, std::string* value) {
  size_t eq = token.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  std::string k = token.substr(0, eq);
  for (char c : k) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) {
      return false;
    }
  }
  *key = k;
  *value = token.substr(eq + 1);
  return true;
}

Problem Problem::parse(const std::string& text) {
  auto tokens = split_whitespace(text);
  if (tokens.empty()) throw Error("empty problem: expected 'workload key=value ...'");
  Problem problem;
  problem.workload = tokens[0];
  if (problem.workload.find('=') != std::string::npos) {
    throw Error("problem " + single_quoted(text) + " must start with a workload name, not " +
                single_quoted(tokens[0]));
  }
  for (size_t i = 1; i < tokens.size(); ++i) {
    std::string key, value;
    if (!split_assignment(tokens[i], &key, &value)) {
      throw Error("malformed parameter " + single_quoted(tokens[i]) + " in " + single_quoted(text) +
                  ": expected key=value");
    }
    if (problem.params.count(key)) {
      throw Error("parameter " + single_quoted(key) + " given twice in " + single_quoted(text));
    }
    problem.params[key] = value;
  }
  return problem;
}

std::string Problem::str() const {
  std::string out = workload;
  for (const auto& [key, value] : params) out += " " + key + "=" + value;
  return out;
}

const std::string& Problem::get(const std::string& key) const {
  auto it = params.find(key);
  if (it == params.end()) throw Error(workload + ": missing parameter '" + key + "'");
  return it->second;
}

int64_t Problem::get_int(const std::string& key) const {
  auto value = parse_int(get(key));
  if (!value) throw Error(workload + ": parameter '" + key + "' is not an integer");
  return *value;
}

double Problem::get_double(const std::string& key) const {
  auto value = parse_double(get(key));
  if (!value) throw Error(workload + ": parameter '" + key + "' is not a number");
  return *value;
}

bool Problem::get_bool(const std::string& key) const { return get(key) == "true"; }

}  // namespace dlbench
