#include "harness/child_spec.h"

#include <utility>
#include <vector>

#include "core/error.h"
#include "core/files.h"
#include "core/strings.h"

namespace dlbench {

using nlohmann::json;

namespace {

enum class Kind { kNumber, kInteger, kBoolean, kText };

/// What is wrong with the fields of `object` that `fields` names (absent ones are fine).
std::string fields_problem(const json& object,
                           const std::vector<std::pair<const char*, Kind>>& fields,
                           const std::string& prefix) {
  for (const auto& [key, kind] : fields) {
    if (!object.contains(key)) continue;
    const json& value = object[key];
    bool valid = kind == Kind::kNumber    ? value.is_number()
                 : kind == Kind::kInteger ? value.is_number_integer()
                 : kind == Kind::kBoolean ? value.is_boolean()
                                          : value.is_string();
    if (!valid) {
      const char* expected = kind == Kind::kNumber    ? "a number"
                             : kind == Kind::kInteger ? "an integer"
                             : kind == Kind::kBoolean ? "true or false"
                                                      : "text";
      return "'" + prefix + key + "' must be " + expected;
    }
  }
  return "";
}

}  // namespace

std::string run_options_problem(const json& options) {
  if (!options.is_object()) return "the run options must be an object";
  std::string problem = fields_problem(options,
                                       {{"warmup_steps", Kind::kInteger},
                                        {"warmup_time", Kind::kNumber},
                                        {"min_steps", Kind::kInteger},
                                        {"min_time", Kind::kNumber},
                                        {"max_time", Kind::kNumber},
                                        {"repeats", Kind::kInteger},
                                        {"cv_bound", Kind::kNumber},
                                        {"dry_run", Kind::kBoolean},
                                        {"isolate", Kind::kBoolean},
                                        {"timeout", Kind::kNumber},
                                        {"check", Kind::kBoolean},
                                        {"mllog", Kind::kText}},
                                       "options.");
  if (!problem.empty() || !options.contains("group") || options["group"].is_null()) return problem;
  if (!options["group"].is_object()) return "'options.group' must be an object or null";
  return fields_problem(options["group"],
                        {{"rank", Kind::kInteger},
                         {"world_size", Kind::kInteger},
                         {"local_rank", Kind::kInteger},
                         {"master_addr", Kind::kText},
                         {"master_port", Kind::kInteger},
                         {"prefix", Kind::kText},
                         {"timeout_s", Kind::kNumber}},
                        "options.group.");
}

json load_child_spec(const std::string& path) {
  json spec = parse_json_file(path, "child spec");
  std::string problem;
  if (!spec.is_object()) {
    problem = "it must be an object with 'problem' and 'options'";
  } else if (!spec.contains("problem") || !spec["problem"].is_string()) {
    problem = "'problem' (the repro string) is missing or not text";
  } else if (!spec.contains("options")) {
    problem = "'options' (the run options) is missing";
  } else if (spec.contains("cpu_clock") &&
             (!spec["cpu_clock"].is_object() ||
              !spec["cpu_clock"].value("hz", json()).is_number() ||
              !spec["cpu_clock"].value("source", json()).is_string())) {
    problem = "'cpu_clock' must be an object with a number 'hz' and a text 'source'";
  } else {
    problem = run_options_problem(spec["options"]);
  }
  if (!problem.empty()) throw Error("child spec " + single_quoted(path) + ": " + problem);
  return spec;
}

}  // namespace dlbench
