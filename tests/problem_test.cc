// Problem descriptors: parsing, canonical printing, resolution against the registry.
#include <gtest/gtest.h>

#include "cli/targets.h"
#include "core/error.h"
#include "core/problem.h"
#include "core/registry.h"

namespace dlbench {
namespace {

TEST(Problem, ParseAndPrintSortsKeys) {
  Problem p = Problem::parse("micro/gemm n=2 m=1   k=3");
  EXPECT_EQ(p.workload, "micro/gemm");
  EXPECT_EQ(p.params.size(), 3u);
  EXPECT_EQ(p.str(), "micro/gemm k=3 m=1 n=2");
  EXPECT_EQ(Problem::parse(p.str()), p);
}

TEST(Problem, MalformedTokensAreErrors) {
  EXPECT_THROW(Problem::parse(""), Error);
  EXPECT_THROW(Problem::parse("micro/gemm m"), Error);
  EXPECT_THROW(Problem::parse("micro/gemm =3"), Error);
  EXPECT_THROW(Problem::parse("micro/gemm m=1 m=2"), Error);
  EXPECT_THROW(Problem::parse("m=1 micro/gemm"), Error);
}

TEST(Registry, ResolveFillsDefaultsAndNormalises) {
  Problem p = Registry::instance().resolve(Problem::parse("micro/gemm m=1Ki dtype=bf16"));
  EXPECT_EQ(p.get("m"), "1024");
  EXPECT_EQ(p.get("n"), "1024");  // default
  EXPECT_EQ(p.get("dtype"), "bf16");
  EXPECT_EQ(p.get("device"), "cpu");
  EXPECT_TRUE(p.params.count("threads"));
  EXPECT_EQ(p.get("seed"), "0");
}

TEST(Registry, ReproStringRoundTrips) {
  for (const char* text : {"micro/gemm m=77 transa=t dtype=fp64", "micro/stream kernel=copy n=4Ki",
                           "micro/gemm device=cuda:1 threads=1"}) {
    Problem resolved = Registry::instance().resolve(Problem::parse(text));
    Problem again = Registry::instance().resolve(Problem::parse(resolved.str()));
    EXPECT_EQ(again, resolved) << text;
    EXPECT_EQ(again.str(), resolved.str());
  }
}

TEST(Registry, RejectsUnknownAndBadInput) {
  const Registry& r = Registry::instance();
  try {
    r.resolve(Problem::parse("micro/gem"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'micro/gemm'"), std::string::npos);
  }
  try {
    r.resolve(Problem::parse("micro/gemm mm=3"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown parameter 'mm'"), std::string::npos);
  }
  EXPECT_THROW(r.resolve(Problem::parse("micro/gemm m=abc")), Error);
  EXPECT_THROW(r.resolve(Problem::parse("micro/gemm m=0")), Error);  // below the minimum
  EXPECT_THROW(r.resolve(Problem::parse("micro/gemm dtype=fp8")), Error);
  EXPECT_THROW(r.resolve(Problem::parse("micro/gemm device=tpu")), Error);
  EXPECT_THROW(r.resolve(Problem::parse("micro/gemm threads=0")), Error);
}

TEST(Targets, KeyValuesBindToThePrecedingWorkload) {
  TargetList t = parse_targets({"dtype=fp32", "micro/gemm", "m=5", "micro/stream", "n=9"});
  ASSERT_EQ(t.problems.size(), 2u);
  EXPECT_EQ(t.overrides.at("dtype"), "fp32");
  EXPECT_EQ(t.problems[0].params.at("m"), "5");
  EXPECT_EQ(t.problems[1].params.at("n"), "9");
}

TEST(Targets, QuotedReproStringIsOneProblem) {
  TargetList t = parse_targets({"micro/gemm m=8 n=8", "k=8"});
  ASSERT_EQ(t.problems.size(), 1u);
  EXPECT_EQ(t.problems[0].params.size(), 3u);
}

TEST(Targets, GlobalOverridesApplyWhereAccepted) {
  auto problems = resolve_all({Problem{"micro/gemm", {}}, Problem{"micro/stream", {}}},
                              {{"dtype", "fp32"}, {"m", "64"}});
  EXPECT_EQ(problems[0].get("dtype"), "fp32");
  EXPECT_EQ(problems[0].get("m"), "64");
  EXPECT_EQ(problems[1].get("dtype"), "fp32");
  EXPECT_THROW(resolve_all({Problem{"micro/stream", {}}}, {{"bogus", "1"}}), Error);
}

}  // namespace
}  // namespace dlbench

namespace dlbench {
namespace {

TEST(Params, TupleNormalisesAndParses) {
  ParamSpec stride = ParamSpec::tuple("stride", "1", "stride", 1);
  EXPECT_EQ(stride.normalize("2x2", "w"), "2");
  EXPECT_EQ(stride.normalize("2x1", "w"), "2x1");
  EXPECT_EQ(stride.normalize("1x2x2", "w"), "1x2x2");
  EXPECT_THROW(stride.normalize("0", "w"), Error);
  EXPECT_THROW(stride.normalize("2x", "w"), Error);
  EXPECT_THROW(stride.normalize("1x1x1x1", "w"), Error);
  EXPECT_EQ(parse_tuple("3", 2), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(parse_tuple("3x1", 2), (std::vector<int64_t>{3, 1}));
  EXPECT_THROW(parse_tuple("3x1", 3), Error);
}

}  // namespace
}  // namespace dlbench
