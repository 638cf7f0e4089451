// Parameter specifications: what a workload accepts, with types, defaults and checks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dlbench {

/// The type of a workload parameter; decides how values are validated and normalised.
enum class ParamType { kInt, kFloat, kString, kBool, kChoice, kTuple };

/// One parameter a workload accepts. Values travel as strings in problems; `normalize` turns a
/// user's spelling into the canonical one (so "1Ki" and "1024" give the same repro string).
struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kString;
  std::string default_value;
  std::string help;
  std::vector<std::string> choices;  ///< for kChoice
  double min_value = -1e300;         ///< for kInt / kFloat, inclusive
  double max_value = 1e300;          ///< for kInt / kFloat, inclusive

  /// An integer parameter with an inclusive range.
  static ParamSpec integer(std::string name, int64_t default_value, std::string help,
                           int64_t min_value = 0, int64_t max_value = INT64_MAX);
  /// A floating-point parameter with an inclusive range.
  static ParamSpec real(std::string name, double default_value, std::string help,
                        double min_value = -1e300, double max_value = 1e300);
  /// A parameter that takes one of a fixed list of values.
  static ParamSpec choice(std::string name, std::string default_value,
                          std::vector<std::string> choices, std::string help);
  /// A boolean parameter (true/false, also accepts 1/0, yes/no, on/off).
  static ParamSpec boolean(std::string name, bool default_value, std::string help);
  /// A per-spatial-dimension integer tuple: "2" (every dimension), "2x1" (h x w) or "1x2x2"
  /// (d x h x w), for strides, paddings, dilations and window sizes. Canonical form: one number
  /// when all entries are equal ("2x2" -> "2"). Read it with parse_tuple.
  static ParamSpec tuple(std::string name, std::string default_value, std::string help,
                         int64_t min_value = 0);
  /// A free-form string parameter (no whitespace).
  static ParamSpec text(std::string name, std::string default_value, std::string help);

  /// Validates `raw` and returns its canonical spelling; throws Error naming the parameter.
  std::string normalize(const std::string& raw, const std::string& workload) const;
  /// A short type description for listings: "int", "float", "fp32|bf16", ...
  std::string type_name() const;
};

/// The entries of a tuple value for `dims` spatial dimensions: a single number is repeated,
/// otherwise the count must equal `dims`. Throws Error naming the value.
std::vector<int64_t> parse_tuple(const std::string& value, size_t dims);

}  // namespace dlbench
