// Every suite shipped in suites/ loads and every one of its problems resolves, so a typo in a
// suite (a misspelt parameter, a model that is not registered) fails here and not after an hour
// of a real run.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/registry.h"
#include "harness/suite.h"

namespace dlbench {
namespace {

TEST(ShippedSuites, EveryProblemResolves) {
  const std::filesystem::path dir = std::filesystem::path(DLBENCH_SOURCE_DIR) / "suites";
  size_t suites = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    ++suites;
    Suite suite = load_suite(entry.path().string());
    EXPECT_FALSE(suite.entries.empty()) << entry.path();
    for (const SuiteEntry& e : suite.entries) {
      EXPECT_NO_THROW(Registry::instance().resolve(e.problem))
          << entry.path() << ": " << e.problem.str();
    }
  }
  EXPECT_GE(suites, 6u);
}

TEST(ShippedSuites, ModelSuitesRunFullPresets) {
  const std::string dir = std::string(DLBENCH_SOURCE_DIR) + "/suites/";
  for (const char* name : {"vision.yaml", "science.yaml", "recsys.yaml", "nlp.yaml"}) {
    Suite suite = load_suite(dir + name);
    for (const SuiteEntry& e : suite.entries) {
      Problem p = Registry::instance().resolve(e.problem);
      EXPECT_EQ(p.params.at("size"), "full") << name << ": " << p.str();
    }
  }
}

}  // namespace
}  // namespace dlbench
