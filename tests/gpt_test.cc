// model/gpt: rotary embeddings, RMSNorm and grouped-query attention against hand-computed and
// reference values, the causal mask over cached positions, the KV cache against recomputation,
// serving and training counts, and the parameter formula against the built network.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "core/registry.h"
#include "test_util.h"
#include "workloads/model/model.h"
#include "workloads/model/nlp/gpt.h"

namespace dlbench {
namespace {

using model::GptConfig;

GptConfig tiny_config() {
  GptConfig c;
  c.layers = 2;
  c.d_model = 64;
  c.heads = 4;
  c.kv_heads = 2;
  c.ffn = 176;
  c.vocab = 256;
  c.max_len = 48;
  return c;
}

/// Standard causal multi-head attention with rotary embedding, written out head by head, with
/// the module's weights. Key/value head of query head h: h / (heads / kv_heads).
torch::Tensor reference_attention(model::GqaAttention& m, const GptConfig& c,
                                  const model::RotaryTables& rope, const torch::Tensor& x) {
  const int64_t batch = x.size(0), length = x.size(1), dh = c.head_dim();
  torch::Tensor q = torch::matmul(x, m->wq->weight.t()).view({batch, length, c.heads, dh});
  torch::Tensor k = torch::matmul(x, m->wk->weight.t()).view({batch, length, c.kv_heads, dh});
  torch::Tensor v = torch::matmul(x, m->wv->weight.t()).view({batch, length, c.kv_heads, dh});
  torch::Tensor allowed = torch::ones({length, length}).tril().to(torch::kBool);
  std::vector<torch::Tensor> outputs;
  for (int64_t h = 0; h < c.heads; ++h) {
    int64_t g = h / c.group();
    torch::Tensor qh = model::apply_rotary(q.select(2, h), rope, 0);  // [B, T, dh]
    torch::Tensor kh = model::apply_rotary(k.select(2, g), rope, 0);
    torch::Tensor scores = torch::matmul(qh, kh.transpose(1, 2)) / std::sqrt(double(dh));
    scores = scores.masked_fill(~allowed, -1e30);
    outputs.push_back(torch::matmul(torch::softmax(scores, -1), v.select(2, g)));
  }
  return torch::matmul(torch::cat(outputs, -1), m->wo->weight.t());
}

void expect_cache_equals_recompute(bool tied) {
  torch::manual_seed(11);
  GptConfig c = tiny_config();
  c.tied = tied;
  model::GptNet gpt(c);
  gpt->eval();
  torch::NoGradGuard no_grad;
  torch::Tensor prompt = torch::randint(c.vocab, {3, 12}, torch::kLong);
  const int64_t n = 20;
  std::vector<model::KvCache> caches = gpt->make_caches(3, torch::kFloat, torch::kCPU);
  model::Generation cached = gpt->generate_cached(prompt, n, caches);
  model::Generation recomputed = gpt->generate_recompute(prompt, n);
  ASSERT_EQ(cached.tokens.sizes(), (std::vector<int64_t>{3, n}));
  EXPECT_TRUE(torch::equal(cached.tokens, recomputed.tokens)) << "cached:\n"
                                                              << cached.tokens << "\nrecomputed:\n"
                                                              << recomputed.tokens;
  EXPECT_TRUE(torch::allclose(cached.last_logits, recomputed.last_logits, 1e-4, 1e-5));
  // Not a degenerate sequence: greedy generation does not emit one token throughout.
  EXPECT_GT(std::get<0>(at::_unique(cached.tokens)).numel(), 1);
}

TEST(GptRotary, RotatesPairsByPositionTimesFrequency) {
  // head_dim 4, theta 10000: frequencies 1 and 10000^(-2/4) = 0.01. At position 3 the pair
  // (1, 2) turns by 3 rad and (3, 4) by 0.03 rad.
  model::RotaryTables tables = model::rotary_tables(8, 4, 10000);
  torch::Tensor x = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f}).view({1, 4});
  torch::Tensor y = model::apply_rotary(x, tables, 3);
  const double a = 3.0, b = 0.03;
  std::vector<double> expected = {
      1 * std::cos(a) - 2 * std::sin(a), 1 * std::sin(a) + 2 * std::cos(a),
      3 * std::cos(b) - 4 * std::sin(b), 3 * std::sin(b) + 4 * std::cos(b)};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[0][i].item<double>(), expected[i], 1e-5) << i;
  // Position 0 leaves x unchanged.
  EXPECT_TRUE(torch::allclose(model::apply_rotary(x, tables, 0), x));
}

TEST(GptRotary, QueryKeyProductDependsOnlyOnTheRelativePosition) {
  torch::manual_seed(3);
  model::RotaryTables tables = model::rotary_tables(64, 16, 10000);
  torch::Tensor q = torch::randn({1, 16}), k = torch::randn({1, 16});
  auto score = [&](int64_t m, int64_t n) {
    return (model::apply_rotary(q, tables, m) * model::apply_rotary(k, tables, n))
        .sum()
        .item<double>();
  };
  EXPECT_NEAR(score(5, 2), score(3, 0), 1e-4);
  EXPECT_NEAR(score(5, 2), score(40, 37), 1e-4);
  EXPECT_NEAR(score(9, 9), score(0, 0), 1e-4);
  EXPECT_GT(std::abs(score(5, 2) - score(5, 5)), 1e-3);  // the offset does matter
}

TEST(GptRmsNorm, MatchesAHandComputedValue) {
  // x = (1, 2, 3, 4): mean square 7.5; y = x / sqrt(7.5 + 1e-5) * g.
  model::RMSNorm norm(4, 1e-5);
  {
    torch::NoGradGuard no_grad;
    norm->weight.copy_(torch::tensor({1.0f, 2.0f, 1.0f, 0.5f}));
  }
  torch::Tensor y = norm(torch::tensor({1.0f, 2.0f, 3.0f, 4.0f}).view({1, 4}));
  const double r = 1 / std::sqrt(7.5 + 1e-5);
  std::vector<double> expected = {1 * r, 4 * r, 3 * r, 2 * r};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[0][i].item<double>(), expected[i], 1e-6) << i;
}

TEST(GptAttention, WithAsManyKvHeadsAsHeadsEqualsStandardMultiHeadAttention) {
  torch::manual_seed(5);
  GptConfig c = tiny_config();
  c.kv_heads = c.heads;
  model::GqaAttention attention(c);
  model::RotaryTables rope = model::rotary_tables(c.max_len, c.head_dim(), c.rope_theta);
  torch::NoGradGuard no_grad;
  torch::Tensor x = torch::randn({2, 7, c.d_model});
  torch::Tensor got = attention->forward(x, rope, 0, nullptr, model::causal_mask(7, 0, x.device()));
  EXPECT_TRUE(torch::allclose(got, reference_attention(attention, c, rope, x), 1e-4, 1e-5));
}

TEST(GptAttention, GroupedQueriesEqualMultiHeadAttentionWithRepeatedKeysAndValues) {
  torch::manual_seed(6);
  GptConfig c = tiny_config();  // 4 heads, 2 KV heads
  model::GqaAttention gqa(c);
  GptConfig full = c;
  full.kv_heads = c.heads;
  model::GqaAttention mha(full);
  {
    torch::NoGradGuard no_grad;
    const int64_t dh = c.head_dim();
    mha->wq->weight.copy_(gqa->wq->weight);
    mha->wo->weight.copy_(gqa->wo->weight);
    // MHA head h gets the rows of GQA key/value head h / group.
    mha->wk->weight.copy_(gqa->wk->weight.view({c.kv_heads, dh, c.d_model})
                              .repeat_interleave(c.group(), 0)
                              .reshape({c.heads * dh, c.d_model}));
    mha->wv->weight.copy_(gqa->wv->weight.view({c.kv_heads, dh, c.d_model})
                              .repeat_interleave(c.group(), 0)
                              .reshape({c.heads * dh, c.d_model}));
  }
  model::RotaryTables rope = model::rotary_tables(c.max_len, c.head_dim(), c.rope_theta);
  torch::NoGradGuard no_grad;
  torch::Tensor x = torch::randn({2, 6, c.d_model});
  torch::Tensor mask = model::causal_mask(6, 0, x.device());
  torch::Tensor grouped = gqa->forward(x, rope, 0, nullptr, mask);
  EXPECT_TRUE(torch::allclose(grouped, mha->forward(x, rope, 0, nullptr, mask), 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(grouped, reference_attention(gqa, c, rope, x), 1e-4, 1e-5));
}

TEST(GptCausalMask, HidesLaterPositionsOfAChunkAfterCachedOnes) {
  // Chunk of 2 at positions 3, 4 over keys 0..4: row 0 sees 0..3, row 1 sees 0..4.
  torch::Tensor mask = model::causal_mask(2, 3, torch::kCPU);
  ASSERT_EQ(mask.sizes(), (std::vector<int64_t>{2, 5}));
  for (int64_t j = 0; j < 5; ++j) {
    EXPECT_EQ(std::isinf(mask[0][j].item<float>()), j == 4) << j;
    EXPECT_EQ(mask[1][j].item<float>(), 0.0f) << j;
  }
}

TEST(GptKvCache, GreedyGenerationEqualsRecomputingTheWholeSequence) {
  expect_cache_equals_recompute(false);
}

TEST(GptKvCache, GreedyGenerationEqualsRecomputationWithATiedHead) {
  expect_cache_equals_recompute(true);
}

TEST(GptKvCache, CachesAreWrittenInPlaceAtTheDecodedPosition) {
  torch::manual_seed(12);
  GptConfig c = tiny_config();
  model::GptNet gpt(c);
  torch::NoGradGuard no_grad;
  std::vector<model::KvCache> caches = gpt->make_caches(2, torch::kFloat, torch::kCPU);
  ASSERT_EQ(caches.size(), 2u);
  EXPECT_EQ(caches[0].keys.sizes(), (std::vector<int64_t>{2, c.kv_heads, c.max_len, c.head_dim()}));
  const void* storage = caches[0].keys.data_ptr();
  gpt->prefill(torch::randint(c.vocab, {2, 5}, torch::kLong), caches);
  gpt->decode(torch::randint(c.vocab, {2}, torch::kLong), 5, caches);
  EXPECT_EQ(caches[0].keys.data_ptr(), storage);
  EXPECT_GT(caches[0].keys.select(2, 5).abs().sum().item<double>(), 0);  // written
  EXPECT_EQ(caches[0].keys.select(2, 6).abs().sum().item<double>(), 0);  // untouched
}

TEST(GptServing, ReportsPrefillAndDecodeTimesAndTokenThroughputs) {
  Result r = testing::run_problem("model/gpt size=tiny mode=infer");
  ASSERT_EQ(r.status, Status::kPassed) << r.reason;
  EXPECT_EQ(r.work.sample_unit, "tokens");
  EXPECT_EQ(r.work.samples, 2.0 * 8);  // batch x gen generated tokens
  for (const char* metric :
       {"throughput", "prefill_time", "decode_time", "prefill_throughput", "decode_throughput"}) {
    ASSERT_TRUE(r.metrics.count(metric)) << metric;
    EXPECT_GT(r.metrics.at(metric).value, 0) << metric;
  }
  // Decode tokens/s = batch / TPOT; prefill tokens/s = batch x seq / TTFT.
  EXPECT_NEAR(r.metrics.at("decode_throughput").value * r.metrics.at("decode_time").value, 2.0,
              1e-6);
  EXPECT_NEAR(r.metrics.at("prefill_throughput").value * r.metrics.at("prefill_time").value,
              2.0 * 16, 1e-6);
}

TEST(GptTraining, CountsTokensPerStep) {
  Result r = testing::run_problem("model/gpt size=tiny mode=train");
  ASSERT_EQ(r.status, Status::kPassed) << r.reason;
  EXPECT_EQ(r.work.sample_unit, "tokens");
  EXPECT_EQ(r.work.samples, 4.0 * 32);  // batch x seq
  EXPECT_FALSE(r.metrics.count("prefill_time"));
}

TEST(GptParameters, TheCountedFormulaEqualsTheBuiltNetwork) {
  // parameter_count() is analytic (the full preset is never built to be counted); the base's
  // count of the built network must agree, untied and tied, GQA and multi-query.
  for (const char* text :
       {"model/gpt size=tiny", "model/gpt size=small", "model/gpt size=tiny tied=true",
        "model/gpt size=tiny kv_heads=1 layers=3"}) {
    auto m = testing::make_model(text);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->parameter_count(), m->ModelWorkload::parameter_count()) << text;
  }
}

}  // namespace
}  // namespace dlbench
