// Every whole-model benchmark (model/...) under one contract, discovered from the registry so a
// new model is covered the moment it registers: tiny presets run in both modes and pass their
// check; the analytic FLOP formula matches the count collected from the layers as they run
// (within 2%); training on a fixed batch lowers the loss; the full preset's parameter count
// matches the published figure; describe gives parameters and FLOPs per sample; the operand
// bytes counted at the same hooks cover every weight of the network and give a memory share.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/registry.h"
#include "core/strings.h"
#include "test_util.h"
#include "workloads/model/model.h"

namespace dlbench {
namespace {

using model::ModelWorkload;
using testing::make_model;
using testing::set_up_model;

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const WorkloadInfo* info : Registry::instance().list(false)) {
    if (info->category == "model") names.push_back(info->name);
  }
  return names;
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param.substr(info.param.find('/') + 1);
  for (char& c : name) {
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

class Models : public ::testing::TestWithParam<std::string> {};

TEST(ModelsRegistered, EveryDocumentedModelIsRegistered) {
  // The vision and science models, the recommendation and language models; more may register.
  std::vector<std::string> names = model_names();
  for (const char* expected :
       {"model/resnet50", "model/ssd", "model/faster_rcnn", "model/crnn", "model/cosmoflow",
        "model/deepcam", "model/ewa", "model/hep", "model/dcgan", "model/wide_deep", "model/din",
        "model/dien", "model/dlrm", "model/ncf", "model/transformer", "model/gnmt", "model/bert",
        "model/gpt", "model/gcn"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
}

TEST_P(Models, TinyPresetRunsInBothModes) {
  for (const char* mode : {"train", "infer"}) {
    Result r = testing::run_problem(GetParam() + " size=tiny mode=" + mode);
    ASSERT_EQ(r.status, Status::kPassed) << r.problem << ": " << r.reason;
    EXPECT_EQ(r.check.status, CheckOutcome::Status::kPassed) << r.problem << r.check.detail;
    EXPECT_GT(r.work.flops, 0) << r.problem;
    EXPECT_GT(r.work.samples, 0) << r.problem;
    EXPECT_GT(r.metrics.at("throughput").value, 0) << r.problem;
    EXPECT_GT(r.metrics.at("flops").value, 0) << r.problem;
    EXPECT_EQ(r.work.primary_metric(), "throughput");
    EXPECT_TRUE(r.work.partial_accounting);
    // The layers' operand bytes, counted in the first step, give a bandwidth, an intensity and
    // the memory share of the verdict.
    EXPECT_TRUE(r.work.bytes_at_run_time);
    EXPECT_GT(r.work.bytes, 0) << r.problem;
    ASSERT_TRUE(r.metrics.count("bandwidth")) << r.problem;
    EXPECT_NEAR(r.metrics.at("bandwidth").value * r.metrics.at("step_time").value, r.work.bytes,
                1e-6 * r.work.bytes);
    EXPECT_NEAR(r.metrics.at("arithmetic_intensity").value, r.work.flops / r.work.bytes,
                1e-9 * r.work.flops / r.work.bytes);
    ASSERT_TRUE(r.bound.has_value());
    EXPECT_TRUE(r.bound->verdict == Verdict::kCompute || r.bound->verdict == Verdict::kMemory ||
                r.bound->verdict == Verdict::kUnknown)
        << verdict_name(r.bound->verdict);
    if (r.bandwidth_ceiling) {  // the memory share is judged against it
      EXPECT_NE(r.bound->detail.find("bandwidth ceiling"), std::string::npos) << r.bound->detail;
    }
  }
}

/// The GEMM-class layers (convolutions, transposed convolutions, linear and recurrent layers)
/// of `net`'s module tree whose parameters the hooks did not all see, by name, and the elements
/// of every such layer's parameters.
struct LayerCoverage {
  double elements = 0;
  std::vector<std::string> unseen;
};

LayerCoverage gemm_layer_coverage(torch::nn::Module& net, const model::FlopTally& tally) {
  LayerCoverage coverage;
  for (const auto& item : net.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    const std::shared_ptr<torch::nn::Module>& m = item.value();
    torch::nn::Module* p = m.get();
    bool gemm_class = dynamic_cast<torch::nn::Conv1dImpl*>(p) ||
                      dynamic_cast<torch::nn::Conv2dImpl*>(p) ||
                      dynamic_cast<torch::nn::Conv3dImpl*>(p) ||
                      dynamic_cast<torch::nn::ConvTranspose2dImpl*>(p) ||
                      dynamic_cast<torch::nn::ConvTranspose3dImpl*>(p) ||
                      dynamic_cast<torch::nn::LinearImpl*>(p) ||
                      dynamic_cast<torch::nn::LSTMImpl*>(p) || dynamic_cast<torch::nn::GRUImpl*>(p);
    if (!gemm_class) continue;
    bool seen = true;
    for (const torch::Tensor& t : m->parameters(/*recurse=*/false)) {
      coverage.elements += static_cast<double>(t.numel());
      const void* key = t.unsafeGetTensorImpl();
      seen &= std::find(tally.weights_seen.begin(), tally.weights_seen.end(), key) !=
              tally.weights_seen.end();
    }
    if (!seen) coverage.unseen.push_back(item.key());
  }
  return coverage;
}

/// Layers a model's inference does not run, by model, with the reason: the hooks cannot see
/// them in infer mode (a training step must still see them).
bool unused_in_inference(const std::string& model, const std::string& layer) {
  auto under = [&](const char* prefix) { return starts_with(layer, prefix); };
  if (model == "model/bert") return under("bert.mlm_transform") || under("bert.nsp");  // heads
  if (model == "model/dcgan") return under("discriminator.");  // inference samples G only
  if (model == "model/dien") return under("auxiliary.");       // the auxiliary loss's network
  return false;
}

TEST_P(Models, CountedBytesCoverEveryGemmLayerWeight) {
  // The byte count is held to the network itself: the distinct weights the hooks saw in one
  // step are exactly the parameters of the GEMM-class layers the module tree holds (a layer
  // that escaped the hooks would leave its weights out), and each counted use read them.
  for (const char* mode : {"infer", "train"}) {
    auto m = set_up_model(GetParam() + " size=tiny mode=" + mode);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->work().bytes, 0) << "no bytes before a step";
    model::FlopTally tally = m->count_step_flops();
    WorkCounts work = m->work();
    LayerCoverage coverage = gemm_layer_coverage(*m->net_ptr(), tally);
    m->teardown();
    SCOPED_TRACE(GetParam() + " " + mode);
    EXPECT_DOUBLE_EQ(work.bytes, tally.total_bytes());
    EXPECT_GT(tally.forward_bytes, tally.weight_bytes);
    // fp32: every element counted is 4 bytes, and each weight seen was read at least once.
    EXPECT_GE(tally.weight_bytes, 4 * tally.weight_elements_seen);
    if (std::string(mode) == "infer") {
      EXPECT_EQ(tally.backward_bytes, 0);
    } else {
      // Each gradient moves the forward's operands again: between one and two times.
      EXPECT_GE(tally.backward_bytes, tally.forward_bytes * 0.5);
      EXPECT_LE(tally.backward_bytes, tally.forward_bytes * 2);
    }
    // Weights a model reaches outside the module tree's GEMM layers (a tied output projection
    // reusing an embedding table) are seen too, so a training step sees at least the tree's
    // weights; inference may leave out the layers only training runs (unused_in_inference).
    if (std::string(mode) == "infer") {
      coverage.unseen.erase(std::remove_if(coverage.unseen.begin(), coverage.unseen.end(),
                                           [&](const std::string& layer) {
                                             return unused_in_inference(GetParam(), layer);
                                           }),
                            coverage.unseen.end());
    } else {
      EXPECT_GE(tally.weight_elements_seen, coverage.elements);
    }
    EXPECT_TRUE(coverage.unseen.empty())
        << "layers whose weights the hooks did not see: " << join(coverage.unseen, ", ");
  }
}

TEST(FlopCounter, CountsTheOperandBytesOfEachLayerByHand) {
  torch::NoGradGuard no_grad;
  auto bytes_of = [](const std::function<void()>& body) {
    model::FlopCounter counter;
    body();
    return counter.tally();
  };
  // Linear 3 -> 4 on x[2, 3]: input 6 + output 8 elements, weights 12 + bias 4; fp32.
  torch::nn::Linear linear(3, 4);
  model::FlopTally t = bytes_of([&] { model::counted(linear, torch::ones({2, 3})); });
  EXPECT_DOUBLE_EQ(t.forward_bytes, 4.0 * (6 + 8 + 12 + 4));
  EXPECT_DOUBLE_EQ(t.weight_bytes, 4.0 * 16);
  EXPECT_DOUBLE_EQ(t.weight_elements_seen, 16);
  // The same layer twice: its bytes twice, its weights seen once.
  t = bytes_of([&] {
    model::counted(linear, torch::ones({2, 3}));
    model::counted(linear, torch::ones({2, 3}));
  });
  EXPECT_DOUBLE_EQ(t.forward_bytes, 2 * 4.0 * 30);
  EXPECT_DOUBLE_EQ(t.weight_elements_seen, 16);
  // Conv 2 -> 3 channels, 3x3, on x[1, 2, 5, 5]: y[1, 3, 3, 3]; weights 3*2*9 + bias 3.
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(2, 3, 3));
  t = bytes_of([&] { model::counted(conv, torch::ones({1, 2, 5, 5})); });
  EXPECT_DOUBLE_EQ(t.forward_bytes, 4.0 * (50 + 27 + 54 + 3));
  // LSTM 5 -> 4, one layer, T=3, B=2 (6 positions), 4 gates of 16 rows: input-to-hidden moves
  // 6 x (5 + 16) activations and 16 x 5 + 16 weights; hidden-to-hidden 6 x (4 + 16) and
  // 16 x 4 + 16.
  torch::nn::LSTM lstm(torch::nn::LSTMOptions(5, 4));
  t = bytes_of([&] { model::counted(lstm, torch::ones({3, 2, 5})); });
  EXPECT_DOUBLE_EQ(t.forward_bytes, 4.0 * (6 * 21 + 96 + 6 * 20 + 80));
  EXPECT_DOUBLE_EQ(t.weight_elements_seen, 96 + 80);
  // A product of two activations: no weights.
  t = bytes_of([&] { model::counted_matmul(torch::ones({2, 3}), torch::ones({3, 4})); });
  EXPECT_DOUBLE_EQ(t.forward_bytes, 4.0 * (6 + 12 + 8));
  EXPECT_DOUBLE_EQ(t.weight_bytes, 0);
  // An embedding lookup of 5 ids in a 10 x 3 table: 5 rows of 3 read, 5 int64 ids, a 5 x 3
  // output; no FLOPs, and the table is not all read, so not seen as a whole weight.
  torch::nn::Embedding table(10, 3);
  t = bytes_of([&] { model::counted(table, torch::arange(5)); });
  EXPECT_DOUBLE_EQ(t.forward_bytes, 4.0 * 15 + 8.0 * 5 + 4.0 * 15);
  EXPECT_DOUBLE_EQ(t.weight_bytes, 4.0 * 15);
  EXPECT_DOUBLE_EQ(t.forward, 0);
  EXPECT_TRUE(t.weights_seen.empty());
  // bf16 operands count 2 bytes each.
  t = bytes_of([&] {
    model::counted_matmul(torch::ones({2, 3}, torch::kBFloat16),
                          torch::ones({3, 4}, torch::kBFloat16));
  });
  EXPECT_DOUBLE_EQ(t.forward_bytes, 2.0 * 26);
}

TEST(FlopCounter, GradientsMoveTheForwardBytesAgain) {
  torch::nn::Linear linear(3, 4);
  torch::Tensor x = torch::ones({2, 3}, torch::requires_grad());
  model::FlopCounter counter;
  model::counted(linear, x);
  // Data gradient and weight gradient: each reads and writes the forward's operand volume.
  EXPECT_DOUBLE_EQ(counter.tally().backward_bytes, 2 * counter.tally().forward_bytes);
}

TEST_P(Models, AnalyticFlopsMatchTheRuntimeCount) {
  for (const char* mode : {"infer", "train"}) {
    auto m = set_up_model(GetParam() + " size=tiny mode=" + mode);
    ASSERT_NE(m, nullptr);
    model::FlopTally tally = m->count_step_flops();
    m->teardown();
    double batch = static_cast<double>(m->batch());
    ModelWorkload::Flops analytic = m->analytic_flops();
    double counted = tally.total() / batch;
    double expected = m->training() ? analytic.train : analytic.forward;
    EXPECT_GT(counted, 0) << GetParam() << " " << mode;
    // `forward` is one inference pass; a training step may run several (a GAN runs G and D
    // more than once), so the forward tally is compared in infer mode only.
    if (!m->training()) {
      EXPECT_NEAR(analytic.forward, tally.forward / batch, 0.02 * analytic.forward)
          << GetParam() << ": forward";
    }
    EXPECT_NEAR(expected, counted, 0.02 * expected) << GetParam() << " " << mode;
    if (!m->training()) {
      EXPECT_EQ(tally.backward, 0) << GetParam();
    }
  }
}

TEST_P(Models, TrainingLowersTheLossOnAFixedBatch) {
  auto m = set_up_model(GetParam() + " size=tiny mode=train");
  ASSERT_NE(m, nullptr);
  const int steps = 40;
  std::vector<double> losses;
  for (int i = 0; i < steps; ++i) {
    m->step();
    losses.push_back(m->last_loss());
    ASSERT_TRUE(std::isfinite(losses.back())) << GetParam() << " step " << i;
  }
  m->teardown();
  double first = (losses[0] + losses[1] + losses[2]) / 3;
  double last = (losses[steps - 1] + losses[steps - 2] + losses[steps - 3]) / 3;
  EXPECT_LT(last, 0.8 * first) << GetParam() << ": loss " << first << " -> " << last;
}

TEST_P(Models, FullPresetMatchesThePublishedParameterCount) {
  auto m = make_model(GetParam() + " size=full");
  ASSERT_NE(m, nullptr);
  auto published = m->model_facts().published_parameters;
  if (!published) GTEST_SKIP() << GetParam() << " states no published count";
  double count = static_cast<double>(m->parameter_count());
  EXPECT_NEAR(count, published->parameters, published->tolerance * published->parameters)
      << GetParam() << " vs " << published->source;
}

TEST_P(Models, DescribeGivesParametersAndFlopsPerSample) {
  auto m = make_model(GetParam() + " size=tiny");
  ASSERT_NE(m, nullptr);
  Description d = m->describe();
  EXPECT_FALSE(d.summary.empty());
  auto has = [&](const std::string& key) {
    for (auto& [k, v] : d.facts) {
      if (k == key && !v.empty()) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("parameters"));
  EXPECT_TRUE(has("forward FLOPs / sample"));
  EXPECT_TRUE(has("training FLOPs / sample"));
  EXPECT_TRUE(has("optimizer"));
  ModelWorkload::Flops f = m->analytic_flops();
  // A training step costs more than its own forward pass, but not necessarily more than
  // inference: an autoregressive decoding loop (model/transformer) can cost more than a
  // teacher-forced training step. Both must be counted.
  EXPECT_GT(f.train, 0) << GetParam();
  EXPECT_GT(f.forward, 0) << GetParam();
}

TEST_P(Models, Fp16IsRefusedOnTheCpuWithAReason) {
  Result r = testing::run_problem(GetParam() + " size=tiny dtype=fp16");
  EXPECT_EQ(r.status, Status::kSkipped) << r.reason;
  EXPECT_NE(r.reason.find("bf16"), std::string::npos) << r.reason;
}

TEST_P(Models, Bf16AutocastTrainsOnTheCpu) {
  Result r = testing::run_problem(GetParam() + " size=tiny dtype=bf16");
  ASSERT_EQ(r.status, Status::kPassed) << r.problem << ": " << r.reason;
  EXPECT_EQ(r.work.dtype, "bf16");
}

INSTANTIATE_TEST_SUITE_P(All, Models, ::testing::ValuesIn(model_names()), test_name);

}  // namespace
}  // namespace dlbench
