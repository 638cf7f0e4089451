#include "core/params.h"

#include <fmt/core.h>
#include <optional>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/error.h"
#include "core/strings.h"

namespace dlbench {

ParamSpec ParamSpec::integer(std::string name, int64_t default_value, std::string help,
                             int64_t min_value, int64_t max_value) {
  ParamSpec spec;
  spec.name = std::move(name);
  spec.type = ParamType::kInt;
  spec.default_value = std::to_string(default_value);
  spec.help = std::move(help);
  spec.min_value = static_cast<double>(min_value);
  spec.max_value = static_cast<double>(max_value);
  return spec;
}

ParamSpec ParamSpec::real(std::string name, double default_value, std::string help,
                          double min_value, double max_value) {
  ParamSpec spec;
  spec.name = std::move(name);
  spec.type = ParamType::kFloat;
  spec.default_value = format_number(default_value);
  spec.help = std::move(help);
  spec.min_value = min_value;
  spec.max_value = max_value;
  return spec;
}

ParamSpec ParamSpec::choice(std::string name, std::string default_value,
                            std::vector<std::string> choices, std::string help) {
  ParamSpec spec;
  spec.name = std::move(name);
  spec.type = ParamType::kChoice;
  spec.default_value = std::move(default_value);
  spec.choices = std::move(choices);
  spec.help = std::move(help);
  return spec;
}

ParamSpec ParamSpec::boolean(std::string name, bool default_value, std::string help) {
  ParamSpec spec;
  spec.name = std::move(name);
  spec.type = ParamType::kBool;
  spec.default_value = default_value ? "true" : "false";
  spec.help = std::move(help);
  return spec;
}

ParamSpec ParamSpec::tuple(std::string name, std::string default_value, std::string help,
                           int64_t min_value) {
  ParamSpec spec;
  spec.name = std::move(name);
  spec.type = ParamType::kTuple;
  spec.default_value = std::move(default_value);
  spec.help = std::move(help);
  spec.min_value = static_cast<double>(min_value);
  return spec;
}

namespace {

/// Splits "2x1x1" into integers; nullopt when malformed.
std::optional<std::vector<int64_t>> split_tuple(const std::string& text) {
  std::vector<int64_t> values;
  for (const std::string& part : split(text, 'x')) {
    auto value = parse_int(part);
    if (!value) return std::nullopt;
    values.push_back(*value);
  }
  if (values.empty() || values.size() > 3) return std::nullopt;
  return values;
}

}  // namespace

std::vector<int64_t> parse_tuple(const std::string& value, size_t dims) {
  auto values = split_tuple(value);
  if (!values)
    throw Error("malformed tuple " + single_quoted(value) + ": expected N, NxN or NxNxN");
  if (values->size() == 1) return std::vector<int64_t>(dims, values->front());
  if (values->size() != dims) {
    throw Error(fmt::format("tuple {} has {} entries; this problem has {} spatial dimensions",
                            single_quoted(value), values->size(), dims));
  }
  return *values;
}

ParamSpec ParamSpec::text(std::string name, std::string default_value, std::string help) {
  ParamSpec spec;
  spec.name = std::move(name);
  spec.type = ParamType::kString;
  spec.default_value = std::move(default_value);
  spec.help = std::move(help);
  return spec;
}

std::string ParamSpec::normalize(const std::string& raw, const std::string& workload) const {
  auto fail = [&](const std::string& why) -> Error {
    return Error(fmt::format("{}: bad value {} for parameter '{}': {}", workload,
                             single_quoted(raw), name, why));
  };
  if (raw.empty()) throw fail("empty value");
  if (raw.find_first_of(" \t\n") != std::string::npos) throw fail("values may not contain spaces");
  auto check_range = [&](double value) {
    if (value < min_value || value > max_value) {
      throw fail(
          fmt::format("must be in [{}, {}]", format_number(min_value), format_number(max_value)));
    }
  };
  switch (type) {
    case ParamType::kInt: {
      auto value = parse_int(raw);
      if (!value) throw fail("expected an integer (suffixes k, M, G, Ki, Mi, Gi allowed)");
      check_range(static_cast<double>(*value));
      return std::to_string(*value);
    }
    case ParamType::kFloat: {
      auto value = parse_double(raw);
      if (!value) {
        char* end = nullptr;
        double parsed = std::strtod(raw.c_str(), &end);
        bool non_finite = end == raw.c_str() + raw.size() && !std::isfinite(parsed);
        throw fail(non_finite ? "must be a finite number (not NaN or infinity)"
                              : "expected a number");
      }
      check_range(*value);
      return format_number(*value);
    }
    case ParamType::kBool: {
      std::string v = to_lower(raw);
      if (v == "true" || v == "1" || v == "yes" || v == "on") return "true";
      if (v == "false" || v == "0" || v == "no" || v == "off") return "false";
      throw fail("expected true or false");
    }
    case ParamType::kChoice: {
      if (std::find(choices.begin(), choices.end(), raw) != choices.end()) return raw;
      throw fail("expected one of " + join(choices, ", "));
    }
    case ParamType::kTuple: {
      auto values = split_tuple(raw);
      if (!values) throw fail("expected N, NxN (h x w) or NxNxN (d x h x w)");
      for (int64_t v : *values) check_range(static_cast<double>(v));
      bool all_equal = std::all_of(values->begin(), values->end(),
                                   [&](int64_t v) { return v == values->front(); });
      if (all_equal) return std::to_string(values->front());
      std::vector<std::string> parts;
      for (int64_t v : *values) parts.push_back(std::to_string(v));
      return join(parts, "x");
    }
    case ParamType::kString:
      return raw;
  }
  return raw;
}

std::string ParamSpec::type_name() const {
  switch (type) {
    case ParamType::kInt:
      return "int";
    case ParamType::kFloat:
      return "float";
    case ParamType::kBool:
      return "bool";
    case ParamType::kChoice:
      return join(choices, "|");
    case ParamType::kTuple:
      return "int or HxW or DxHxW";
    case ParamType::kString:
      return "string";
  }
  return "string";
}

}  // namespace dlbench
