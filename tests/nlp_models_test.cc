// model/transformer, model/gnmt, model/bert: attention masks (a padded key gets zero weight, a
// causal decoder never sees the future), label smoothing against hand-computed values and
// LibTorch's own, sinusoidal positions, greedy and beam search on a hand-made language model
// (beam 1 = greedy; a beam finds what greedy misses), BERT's token masking, exact parameter counts
// of the full presets (layer-by-layer sums in docs/workloads/*.md), and the FLOP count of beam
// decoding.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/registry.h"
#include "test_util.h"
#include "workloads/model/model.h"
#include "workloads/model/nlp/attention_blocks.h"

namespace dlbench {
namespace {

using model::ModelWorkload;
using testing::make_model;
using testing::set_up_model;
namespace nlp = model::nlp;

TEST(NlpModels, MasksHaveTheExpectedValues) {
  torch::Tensor causal = nlp::causal_mask(3, torch::kCPU).view({3, 3});
  const double x = nlp::kMaskedScore;
  torch::Tensor expected = torch::tensor({0.0, x, x, 0.0, 0.0, x, 0.0, 0.0, 0.0}).view({3, 3});
  EXPECT_TRUE(torch::equal(causal, expected.to(torch::kFloat))) << causal;
  torch::Tensor padding = nlp::key_padding_mask(torch::tensor({2, 4}), 4);
  ASSERT_EQ(padding.sizes(), (std::vector<int64_t>{2, 1, 1, 4}));
  torch::Tensor expected_padding =
      torch::tensor({0.0, 0.0, x, x, 0.0, 0.0, 0.0, 0.0}).view({2, 1, 1, 4});
  EXPECT_TRUE(torch::equal(padding, expected_padding.to(torch::kFloat))) << padding;
}

TEST(NlpModels, APaddedKeyGetsZeroWeight) {
  torch::manual_seed(1);
  for (bool fused : {false, true}) {
    nlp::MultiheadAttention attention(8, 2, 0.0, fused, false);
    attention->eval();
    torch::Tensor x = torch::randn({2, 5, 8});
    torch::Tensor mask = nlp::key_padding_mask(torch::tensor({3, 5}), 5);
    auto [out, weights] = attention->attend(x, x, mask);
    ASSERT_EQ(weights.sizes(), (std::vector<int64_t>{2, 2, 5, 5}));
    // Sequence 0 has 3 real tokens: keys 3 and 4 get exactly nothing, the rest sums to 1.
    EXPECT_EQ(weights[0].narrow(-1, 3, 2).abs().max().item<float>(), 0.0f);
    EXPECT_TRUE(torch::allclose(weights.sum(-1), torch::ones({2, 2, 5})));
    EXPECT_GT(weights[1].narrow(-1, 3, 2).min().item<float>(), 0.0f);
    // Changing what sits in the padding changes nothing the real tokens compute.
    torch::Tensor perturbed = x.clone();
    perturbed[0].narrow(0, 3, 2).add_(torch::randn({2, 8}) * 10);
    torch::Tensor out2 = attention->forward(perturbed, perturbed, mask);
    EXPECT_TRUE(torch::allclose(out[0].narrow(0, 0, 3), out2[0].narrow(0, 0, 3), 1e-5, 1e-6));
  }
}

TEST(NlpModels, ACausalDecoderNeverSeesTheFuture) {
  torch::manual_seed(2);
  nlp::LayerOptions o;
  o.d_model = 16;
  o.heads = 4;
  o.ffn = 32;
  o.dropout = 0.0;
  nlp::DecoderLayer first(o), second(o);
  first->eval();
  second->eval();
  const int64_t t = 7;
  torch::Tensor x = torch::randn({2, t, 16});
  torch::Tensor memory = torch::randn({2, 5, 16});
  torch::Tensor self_mask = nlp::causal_mask(t, torch::kCPU);
  auto run = [&](const torch::Tensor& input) {
    return second(first(input, memory, self_mask, torch::Tensor()), memory, self_mask,
                  torch::Tensor());
  };
  torch::Tensor reference = run(x);
  for (int64_t i = 0; i + 1 < t; ++i) {
    torch::Tensor perturbed = x.clone();
    perturbed.narrow(1, i + 1, t - i - 1).add_(torch::randn({2, t - i - 1, 16}) * 5);
    torch::Tensor out = run(perturbed);
    // Positions 0..i see only positions 0..i: unchanged. Position i+1 sees the change.
    EXPECT_TRUE(torch::allclose(reference.narrow(1, 0, i + 1), out.narrow(1, 0, i + 1), 1e-5, 1e-6))
        << "position " << i << " saw the future";
    EXPECT_FALSE(torch::allclose(reference.narrow(1, i + 1, 1), out.narrow(1, i + 1, 1)));
  }
}

TEST(NlpModels, SinusoidalPositionsFollowThePaper) {
  const int64_t d = 8;
  torch::Tensor pe = nlp::sinusoidal_positions(4, d);
  ASSERT_EQ(pe.sizes(), (std::vector<int64_t>{4, d}));
  EXPECT_NEAR(pe[0][0].item<float>(), 0.0, 1e-7);
  EXPECT_NEAR(pe[0][1].item<float>(), 1.0, 1e-7);
  EXPECT_NEAR(pe[1][0].item<float>(), std::sin(1.0), 1e-6);
  EXPECT_NEAR(pe[1][1].item<float>(), std::cos(1.0), 1e-6);
  // Dimension 2i = 2: wavelength 10000^(2/8).
  EXPECT_NEAR(pe[3][2].item<float>(), std::sin(3.0 / std::pow(10000.0, 2.0 / d)), 1e-6);
  EXPECT_NEAR(pe[3][7].item<float>(), std::cos(3.0 / std::pow(10000.0, 6.0 / d)), 1e-6);
}

TEST(NlpModels, LabelSmoothingMatchesAHandComputedValue) {
  // p = (1/4, 1/2, 1/4) from logits (0, ln 2, 0). Smoothing 0.1 over V = 3 classes:
  // loss = 0.9 (-ln p_target) + 0.1 mean_c(-ln p_c), mean_c(-ln p_c) = (2 ln4 + ln2) / 3 = 5/3 ln2.
  //   target 1: 0.9 ln2 + (1/6) ln2 = 1.0666.. ln2;  target 0: 1.8 ln2 + (1/6) ln2 = 1.9666.. ln2.
  // The row whose target is the ignore index (2) counts nowhere: mean = 1.51666.. ln2.
  const double ln2 = std::log(2.0);
  torch::Tensor logits =
      torch::tensor({0.0, ln2, 0.0, 5.0, -3.0, 1.0, 0.0, ln2, 0.0}).view({3, 3}).to(torch::kFloat);
  torch::Tensor targets = torch::tensor({1, 2, 0}, torch::kLong);
  double loss = nlp::label_smoothed_cross_entropy(logits, targets, 0.1, 2).item<double>();
  EXPECT_NEAR(loss, (1.0 + 1.0 / 15 + 2.0 - 1.0 / 30) / 2 * ln2, 1e-6);
  EXPECT_NEAR(loss, 1.0512730, 1e-6);
  // LibTorch's own label-smoothed cross entropy (same convention) agrees.
  double reference =
      torch::nn::functional::cross_entropy(
          logits, targets,
          torch::nn::functional::CrossEntropyFuncOptions().ignore_index(2).label_smoothing(0.1))
          .item<double>();
  EXPECT_NEAR(loss, reference, 1e-6);
  // No smoothing: plain NLL.
  EXPECT_NEAR(nlp::label_smoothed_cross_entropy(logits, targets, 0.0, 2).item<double>(),
              (ln2 + 2 * ln2) / 2, 1e-6);
}

/// A hand-made language model: the next token's log-probabilities depend on the last token and
/// the position, from fixed random tables, with EOS likely after some tokens.
nlp::NextTokenLogProbs table_model(int64_t vocab, int64_t steps) {
  torch::manual_seed(3);
  torch::Tensor by_token = torch::randn({vocab, vocab}) * 2;
  by_token.select(1, 2).add_(torch::linspace(-4, 3, vocab));  // EOS (2) after high tokens
  torch::Tensor by_position = torch::randn({steps + 1, vocab});
  return [by_token, by_position](const torch::Tensor& prefix) {
    torch::Tensor last = prefix.select(1, prefix.size(1) - 1);
    torch::Tensor logits = by_token.index_select(0, last) + by_position[prefix.size(1) - 1];
    return torch::log_softmax(logits, -1);
  };
}

TEST(NlpModels, BeamSearchWithBeamOneIsGreedy) {
  const int64_t vocab = 11, steps = 9, rows = 16;
  nlp::NextTokenLogProbs next = table_model(vocab, steps);
  // Different first tokens per row (as if from different sources): prepend through a wrapper.
  auto with_source = [&](const torch::Tensor& prefix) {
    torch::Tensor shifted = prefix.clone();
    shifted.select(1, 0).copy_(torch::arange(prefix.size(0)) % vocab);
    return next(shifted);
  };
  nlp::SpecialTokens special;
  torch::Tensor greedy = nlp::greedy_decode(with_source, rows, steps, special, torch::kCPU);
  nlp::BeamResult beam = nlp::beam_search(with_source, rows, 1, steps, 0.6, special, torch::kCPU);
  ASSERT_EQ(greedy.sizes(), (std::vector<int64_t>{rows, steps}));
  EXPECT_TRUE(torch::equal(greedy, beam.tokens)) << greedy << beam.tokens;
  // Some rows finished early and continued with PAD only.
  torch::Tensor ended = (greedy == special.eos).any(1);
  EXPECT_GT(ended.sum().item<int64_t>(), 0);
}

TEST(NlpModels, BeamSearchFindsWhatGreedyMisses) {
  // Tokens: PAD 0, BOS 1, EOS 2, X 3, Y 4. After BOS: X 0.6, Y 0.4. After X: EOS 0.34, X 0.33,
  // Y 0.33. After Y: EOS 0.99. Greedy: X EOS (0.6 x 0.34 = 0.204); beam 2: Y EOS (0.396).
  auto next = [](const torch::Tensor& prefix) {
    torch::Tensor last = prefix.select(1, prefix.size(1) - 1);
    std::vector<torch::Tensor> rows;
    for (int64_t r = 0; r < last.size(0); ++r) {
      int64_t token = last[r].item<int64_t>();
      std::vector<double> p = {1e-6, 1e-6, 1e-6, 1e-6, 1e-6};
      if (token == 1) p = {1e-6, 1e-6, 1e-6, 0.6, 0.4};
      if (token == 3) p = {1e-6, 1e-6, 0.34, 0.33, 0.33};
      if (token == 4) p = {1e-6, 1e-6, 0.99, 0.005, 0.005};
      rows.push_back(torch::tensor(p).to(torch::kFloat).log());
    }
    return torch::stack(rows);
  };
  nlp::SpecialTokens special;
  torch::Tensor greedy = nlp::greedy_decode(next, 1, 2, special, torch::kCPU);
  nlp::BeamResult beam = nlp::beam_search(next, 1, 2, 2, 0.6, special, torch::kCPU);
  EXPECT_TRUE(torch::equal(greedy, torch::tensor({3, 2}).view({1, 2}))) << greedy;
  EXPECT_TRUE(torch::equal(beam.tokens, torch::tensor({4, 2}).view({1, 2}))) << beam.tokens;
  // Score: log(0.4 x 0.99) / ((5 + 2) / 6)^0.6.
  EXPECT_NEAR(beam.scores[0].item<double>(), std::log(0.4 * 0.99) / std::pow(7.0 / 6.0, 0.6), 1e-5);
}

TEST(NlpModels, BertMasksFifteenPercentAndLabelsOnlyThere) {
  torch::manual_seed(4);
  const int64_t batch = 200, length = 40, vocab = 100, mask_id = 3, first = 4, max_pred = 20;
  torch::Tensor tokens = torch::randint(first, vocab, {batch, length}, torch::kLong);
  torch::Tensor candidates = torch::ones({batch, length}, torch::kBool);
  candidates.select(1, 0).fill_(false);           // [CLS]
  candidates.select(1, length - 1).fill_(false);  // [SEP]
  candidates[0].narrow(0, 20, 20).fill_(false);   // a short sequence: 19 candidates
  nlp::MaskedLm m = nlp::mask_tokens(tokens, candidates, 0.15, max_pred, mask_id, first, vocab);
  int64_t masked = 0, kept = 0, total = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t n = candidates[b].sum().item<int64_t>();
    const int64_t expected = std::llround(0.15 * static_cast<double>(n));  // 38 -> 6, 19 -> 3
    ASSERT_EQ(m.weights[b].sum().item<float>(), static_cast<float>(expected)) << b;
    torch::Tensor chosen = torch::zeros({length}, torch::kBool);
    for (int64_t j = 0; j < max_pred; ++j) {
      if (m.weights[b][j].item<float>() == 0) {
        EXPECT_EQ(m.labels[b][j].item<int64_t>(), 0);
        continue;
      }
      const int64_t pos = m.positions[b][j].item<int64_t>();
      EXPECT_TRUE(candidates[b][pos].item<bool>()) << "a special token was masked";
      EXPECT_FALSE(chosen[pos].item<bool>()) << "a position was chosen twice";
      chosen[pos] = true;
      EXPECT_EQ(m.labels[b][j].item<int64_t>(), tokens[b][pos].item<int64_t>());
      const int64_t now = m.input_ids[b][pos].item<int64_t>();
      masked += now == mask_id;
      kept += now == tokens[b][pos].item<int64_t>();
      ++total;
    }
    // Everything not chosen is unchanged.
    EXPECT_TRUE(
        torch::equal(m.input_ids[b].masked_select(~chosen), tokens[b].masked_select(~chosen)));
  }
  EXPECT_NEAR(static_cast<double>(masked) / total, 0.8, 0.05);
  EXPECT_NEAR(static_cast<double>(kept) / total, 0.1, 0.04);  // random tokens may also hit it
}

TEST(NlpModels, FullParameterCountsAreTheLayerByLayerSums) {
  // docs/workloads/bert.md: HF BertModel (encoder + pooler) + MLM transform, LayerNorm, output
  // bias and the NSP classifier.
  EXPECT_EQ(make_model("model/bert size=full")->parameter_count(), 109482240 + 624188);
  EXPECT_EQ(make_model("model/bert size=full variant=large")->parameter_count(),
            335141888 + 1084220);
  // docs/workloads/transformer.md: 37000 x 512 tied embedding + 6 encoder + 6 decoder layers.
  EXPECT_EQ(make_model("model/transformer size=full")->parameter_count(), 63082496);
  // docs/workloads/gnmt.md: the MLPerf reference's 160,671,297.
  EXPECT_EQ(make_model("model/gnmt size=full")->parameter_count(), 160671297);
}

TEST(NlpModels, BeamDecodingFlopsMatchTheRuntimeCount) {
  for (const char* name : {"model/transformer", "model/gnmt"}) {
    auto m = set_up_model(std::string(name) + " size=tiny mode=infer decode=beam beam=3");
    ASSERT_NE(m, nullptr);
    model::FlopTally tally = m->count_step_flops();
    CheckOutcome check = m->check();
    m->teardown();
    EXPECT_EQ(check.status, CheckOutcome::Status::kPassed) << name << " " << check.detail;
    const double expected = m->analytic_flops().forward;
    EXPECT_NEAR(tally.forward / static_cast<double>(m->batch()), expected, 0.02 * expected) << name;
    // The beam multiplies the decoder's work: more than twice the greedy count.
    auto greedy = make_model(std::string(name) + " size=tiny mode=infer");
    EXPECT_GT(expected, 2 * greedy->analytic_flops().forward) << name;
  }
}

}  // namespace
}  // namespace dlbench
