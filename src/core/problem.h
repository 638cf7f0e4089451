// Problem descriptors: a workload name plus key=value parameters, printed as a repro string.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace dlbench {

/// A workload name plus parameters. Its canonical string (`str()`: sorted keys, every default
/// filled in by the registry) is the repro string: passed back to `dlbench run`, it reproduces
/// the problem exactly.
struct Problem {
  std::string workload;
  std::map<std::string, std::string> params;

  /// Parses "workload key=value ..." (whitespace separated). Throws Error on a malformed token.
  static Problem parse(const std::string& text);
  /// "workload k1=v1 k2=v2" with keys sorted.
  std::string str() const;

  /// The raw value of a parameter; throws Error if absent.
  const std::string& get(const std::string& key) const;
  /// Typed getters; the registry has already validated the values.
  int64_t get_int(const std::string& key) const;
  double get_double(const std::string& key) const;
  bool get_bool(const std::string& key) const;

  bool operator==(const Problem& other) const {
    return workload == other.workload && params == other.params;
  }
};

/// Splits a "key=value" token; returns false when the token is not of that form.
bool split_assignment(const std::string& token, std::string* key, std::string* value);

}  // namespace dlbench
