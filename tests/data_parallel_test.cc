// Data-parallel training: broadcast_parameters and GradientReducer on real Gloo process groups,
// with the ranks as threads of this process (each its own ProcessGroupGloo over TCP loopback,
// meeting through a shared HashStore), checked against single-rank training on the whole batch.
#include <gtest/gtest.h>

#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/comm_backend.h"  // ProcessGroupGloo, with USE_C10D_GLOO defined
#include "core/error.h"
#include "nn/data_parallel.h"

namespace dlbench {
namespace {

using nn::GradientReducer;
using nn::ReducerStats;

constexpr int kWorld = 2;
constexpr int64_t kGlobalBatch = 8;
constexpr int64_t kLocalBatch = kGlobalBatch / kWorld;
constexpr int kSteps = 5;
/// Small enough that the MLPs below get 3 or more buckets.
constexpr int64_t kSmallBucketCap = 1024;
/// Data-parallel training computes the same mean gradient as one rank on the whole batch, but
/// sums the per-sample terms in a different order (two half-batch means, then their average),
/// so float32 results differ by rounding: a few ulps per step, amplified a little by momentum
/// over kSteps steps. Parameters are O(0.1..1), so 1e-5 times max(1, |p|) is ~100x the
/// expected error and far below any real bug (a missing or doubled gradient moves them ~1e-2).
constexpr double kTolerance = 1e-5;

/// Runs `body(rank, group)` on `world` threads, each with its own Gloo group of `world` ranks.
/// Returns the failure message of every rank that threw (empty on success).
std::vector<std::string> run_ranks(int world,
                                   const std::function<void(int, const CommBackendPtr&)>& body) {
  auto store = c10::make_intrusive<c10d::HashStore>();
  std::vector<std::string> failures;
  std::mutex failures_mutex;
  std::vector<std::thread> threads;
  for (int rank = 0; rank < world; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        auto options = c10d::ProcessGroupGloo::Options::create(std::chrono::seconds(30));
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
        CommBackendPtr group =
            c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, options);
        body(rank, group);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(failures_mutex);
        failures.push_back("rank " + std::to_string(rank) + ": " + e.what());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  return failures;
}

/// The MLP of the tests, initialised from `seed`.
torch::nn::Sequential make_mlp(uint64_t seed) {
  torch::manual_seed(seed);
  return torch::nn::Sequential(torch::nn::Linear(16, 32), torch::nn::ReLU(),
                               torch::nn::Linear(32, 32), torch::nn::ReLU(),
                               torch::nn::Linear(32, 4));
}

/// One global batch.
struct Batch {
  torch::Tensor inputs;   ///< [kGlobalBatch, 16]
  torch::Tensor targets;  ///< [kGlobalBatch, 4]
};

/// kSteps global batches from a generator seeded with `seed`.
std::vector<Batch> make_batches(uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<Batch> batches;
  for (int step = 0; step < kSteps; ++step) {
    batches.push_back(
        {torch::randn({kGlobalBatch, 16}, generator), torch::randn({kGlobalBatch, 4}, generator)});
  }
  return batches;
}

/// Trains `model` on rows [begin, end) of every batch with SGD (lr 0.1, momentum 0.9) and mean
/// MSE, averaging the gradients through `reducer` when it is not null.
template <typename Model>
void train(Model& model, const std::vector<Batch>& batches, int64_t begin, int64_t end,
           GradientReducer* reducer) {
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  for (const Batch& batch : batches) {
    optimizer.zero_grad();
    if (reducer) reducer->prepare();
    torch::Tensor output = model->forward(batch.inputs.slice(0, begin, end));
    torch::Tensor loss = torch::mse_loss(output, batch.targets.slice(0, begin, end));
    loss.backward();
    if (reducer) reducer->finish();
    optimizer.step();
  }
}

/// The largest |a - b| relative to max(1, |b|) over the elements.
double relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs() / b.abs().clamp_min(1.0)).max().item<double>();
}

int64_t parameter_bytes(const std::vector<torch::Tensor>& parameters) {
  int64_t bytes = 0;
  for (const torch::Tensor& p : parameters) bytes += p.numel() * p.element_size();
  return bytes;
}

/// An MLP with a layer that forward() never uses, between the used ones.
struct ModelWithSpare : torch::nn::Module {
  explicit ModelWithSpare(uint64_t seed) {
    torch::manual_seed(seed);
    first = register_module("first", torch::nn::Linear(16, 32));
    spare = register_module("spare", torch::nn::Linear(8, 8));
    last = register_module("last", torch::nn::Linear(32, 4));
  }
  torch::Tensor forward(const torch::Tensor& x) { return last(torch::relu(first(x))); }
  torch::nn::Linear first{nullptr}, spare{nullptr}, last{nullptr};
};

class DataParallelTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::set_num_threads(1); }
};

TEST_F(DataParallelTest, TwoRanksMatchSingleRankTraining) {
  const std::vector<Batch> batches = make_batches(7);
  torch::nn::Sequential reference = make_mlp(1);
  train(reference, batches, 0, kGlobalBatch, nullptr);

  std::vector<torch::nn::Sequential> replicas{make_mlp(1), make_mlp(1)};
  std::vector<std::vector<std::vector<size_t>>> buckets(kWorld);
  auto failures = run_ranks(kWorld, [&](int rank, const CommBackendPtr& group) {
    GradientReducer reducer(replicas[rank]->parameters(), *group, kWorld, kSmallBucketCap);
    buckets[rank] = reducer.bucket_parameters();
    train(replicas[rank], batches, rank * kLocalBatch, (rank + 1) * kLocalBatch, &reducer);
  });
  ASSERT_TRUE(failures.empty()) << failures.front();

  // Buckets: reverse registration order, split by the cap.
  EXPECT_GE(buckets[0].size(), 3u);
  std::vector<size_t> order;
  for (const auto& bucket : buckets[0]) order.insert(order.end(), bucket.begin(), bucket.end());
  EXPECT_EQ(order, (std::vector<size_t>{5, 4, 3, 2, 1, 0}));

  const auto expected = reference->parameters();
  for (int rank = 0; rank < kWorld; ++rank) {
    const auto actual = replicas[rank]->parameters();
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_LE(relative_difference(actual[i], expected[i]), kTolerance)
          << "rank " << rank << " parameter " << i;
      // The ranks apply the same averaged gradient, so they stay bitwise identical.
      EXPECT_TRUE(torch::equal(actual[i], replicas[0]->parameters()[i]))
          << "rank " << rank << " parameter " << i;
    }
  }
  // And training moved the parameters at all (the comparison is not vacuous).
  EXPECT_GT(relative_difference(expected[0], make_mlp(1)->parameters()[0]), 1e-3);
}

TEST_F(DataParallelTest, BroadcastParametersCopiesTheRootsValues) {
  std::vector<torch::nn::Sequential> replicas{make_mlp(1), make_mlp(2)};
  std::vector<std::vector<torch::Tensor>> tensors(kWorld);
  for (int rank = 0; rank < kWorld; ++rank) {
    tensors[rank] = replicas[rank]->parameters();
    // Buffers of other dtypes travel in their own flat buffers.
    tensors[rank].push_back(torch::full({3}, rank + 0.5, torch::kFloat64));
    tensors[rank].push_back(torch::full({2, 2}, rank + 10, torch::kInt64));
  }
  std::vector<torch::Tensor> root_values;
  for (const torch::Tensor& t : tensors[0]) root_values.push_back(t.detach().clone());
  ASSERT_FALSE(torch::equal(tensors[0][0], tensors[1][0]));

  auto failures = run_ranks(kWorld, [&](int rank, const CommBackendPtr& group) {
    nn::broadcast_parameters(tensors[rank], *group, 0);
    EXPECT_THROW(nn::broadcast_parameters(tensors[rank], *group, kWorld), Error);
  });
  ASSERT_TRUE(failures.empty()) << failures.front();

  for (int rank = 0; rank < kWorld; ++rank) {
    for (size_t i = 0; i < root_values.size(); ++i) {
      EXPECT_TRUE(torch::equal(tensors[rank][i], root_values[i]))
          << "rank " << rank << " tensor " << i;
    }
    for (const torch::Tensor& p : replicas[rank]->parameters()) {
      EXPECT_TRUE(p.requires_grad() && p.is_leaf());
    }
  }
}

TEST_F(DataParallelTest, TheFirstBucketHasTheSmallerCap) {
  // The MLP's parameters in reverse order: last.bias 16 B, last.weight 512 B, middle.bias 128 B,
  // middle.weight 4096 B, first.bias 128 B, first.weight 2048 B.
  torch::nn::Sequential model = make_mlp(5);
  auto failures = run_ranks(1, [&](int, const CommBackendPtr& group) {
    // First cap 600 B: [last.bias, last.weight]; then cap 5000 B: [middle.bias, middle.weight,
    // first.bias], [first.weight].
    GradientReducer split(model->parameters(), *group, 1, 5000, 600);
    EXPECT_EQ(split.bucket_bytes(), (std::vector<int64_t>{528, 4352, 2048}));
    // A first cap above the cap is the cap.
    GradientReducer capped(model->parameters(), *group, 1, 600, 10 << 20);
    EXPECT_EQ(capped.bucket_bytes(), (std::vector<int64_t>{528, 128, 4096, 128, 2048}));
    // DDP's defaults: 1 MiB first, 25 MiB after; this MLP fits the first bucket.
    GradientReducer defaults(model->parameters(), *group, 1);
    EXPECT_EQ(defaults.bucket_bytes(), (std::vector<int64_t>{6928}));
  });
  ASSERT_TRUE(failures.empty()) << failures.front();
}

TEST_F(DataParallelTest, UnusedParameterContributesZerosAndKeepsItsGradient) {
  const std::vector<Batch> batches = make_batches(11);
  auto reference = std::make_shared<ModelWithSpare>(3);
  train(reference, batches, 0, kGlobalBatch, nullptr);

  std::vector<std::shared_ptr<ModelWithSpare>> replicas{std::make_shared<ModelWithSpare>(3),
                                                        std::make_shared<ModelWithSpare>(3)};
  const torch::Tensor spare_before = replicas[0]->spare->weight.detach().clone();
  int64_t bucket_count = 0;
  auto failures = run_ranks(kWorld, [&](int rank, const CommBackendPtr& group) {
    // Cap 528 bytes: buckets [last.bias, last.weight], [spare.bias, spare.weight, first.bias],
    // [first.weight]; the middle one never fills during backward, so the last one waits too.
    GradientReducer reducer(replicas[rank]->parameters(), *group, kWorld, 528);
    if (rank == 0) bucket_count = reducer.bucket_count();
    train(replicas[rank], batches, rank * kLocalBatch, (rank + 1) * kLocalBatch, &reducer);
  });
  ASSERT_TRUE(failures.empty()) << failures.front();
  EXPECT_EQ(bucket_count, 3);

  for (int rank = 0; rank < kWorld; ++rank) {
    ModelWithSpare& model = *replicas[rank];
    EXPECT_LE(relative_difference(model.first->weight, reference->first->weight), kTolerance);
    EXPECT_LE(relative_difference(model.first->bias, reference->first->bias), kTolerance);
    EXPECT_LE(relative_difference(model.last->weight, reference->last->weight), kTolerance);
    EXPECT_LE(relative_difference(model.last->bias, reference->last->bias), kTolerance);
    EXPECT_FALSE(model.spare->weight.grad().defined());
    EXPECT_FALSE(model.spare->bias.grad().defined());
    EXPECT_TRUE(torch::equal(model.spare->weight, spare_before));
  }
}

TEST_F(DataParallelTest, StatsCountBucketsBytesAndTimes) {
  const std::vector<Batch> batches = make_batches(5);
  std::vector<torch::nn::Sequential> replicas{make_mlp(1), make_mlp(1)};
  auto failures = run_ranks(kWorld, [&](int rank, const CommBackendPtr& group) {
    torch::nn::Sequential& model = replicas[rank];
    GradientReducer reducer(model->parameters(), *group, kWorld, kSmallBucketCap);
    const int64_t bytes = parameter_bytes(model->parameters());
    int64_t bucket_sum = 0;
    for (int64_t b : reducer.bucket_bytes()) bucket_sum += b;
    EXPECT_EQ(bucket_sum, bytes);
    EXPECT_EQ(reducer.last_step_stats().steps, 0);

    for (int step = 0; step < 2; ++step) {
      const auto start = std::chrono::steady_clock::now();
      model->zero_grad();
      reducer.prepare();
      torch::Tensor input =
          batches[step].inputs.slice(0, rank * kLocalBatch, (rank + 1) * kLocalBatch);
      torch::Tensor target =
          batches[step].targets.slice(0, rank * kLocalBatch, (rank + 1) * kLocalBatch);
      torch::mse_loss(model->forward(input), target).backward();
      reducer.finish();
      const double wall =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

      const ReducerStats last = reducer.last_step_stats();
      EXPECT_EQ(last.steps, 1);
      EXPECT_EQ(last.allreduces, reducer.bucket_count());
      EXPECT_EQ(last.bytes, static_cast<double>(bytes));
      EXPECT_GT(last.comm_seconds, 0);
      EXPECT_LE(last.comm_seconds, wall);
      EXPECT_GE(last.exposed_seconds, 0);
      EXPECT_LE(last.exposed_seconds, wall);
    }
    ReducerStats total = reducer.total_stats();
    EXPECT_EQ(total.steps, 2);
    EXPECT_EQ(total.allreduces, 2 * reducer.bucket_count());
    EXPECT_EQ(total.bytes, 2.0 * static_cast<double>(bytes));
    EXPECT_GE(total.comm_seconds, reducer.last_step_stats().comm_seconds);
    reducer.reset_stats();
    total = reducer.total_stats();
    EXPECT_EQ(total.steps, 0);
    EXPECT_EQ(total.allreduces, 0);
    EXPECT_EQ(total.bytes, 0);
    EXPECT_EQ(total.comm_seconds, 0);
    EXPECT_EQ(reducer.last_step_stats().steps, 1);
  });
  ASSERT_TRUE(failures.empty()) << failures.front();
}

TEST_F(DataParallelTest, WorldSizeOneLeavesGradientsUnchanged) {
  const std::vector<Batch> batches = make_batches(3);
  torch::nn::Sequential model = make_mlp(4);
  auto loss_of = [&] {
    return torch::mse_loss(model->forward(batches[0].inputs), batches[0].targets);
  };
  // Plain backward first, so the grad accumulators exist before the hooks are registered.
  loss_of().backward();
  std::vector<torch::Tensor> expected;
  for (const torch::Tensor& p : model->parameters()) expected.push_back(p.grad().clone());

  auto failures = run_ranks(1, [&](int, const CommBackendPtr& group) {
    GradientReducer reducer(model->parameters(), *group, 1);  // default cap: one bucket
    EXPECT_EQ(reducer.bucket_count(), 1);
    for (torch::Tensor& p : model->parameters()) p.mutable_grad() = torch::Tensor();
    reducer.prepare();
    loss_of().backward();
    // Scribble on .grad: finish() must write it from the bucket the hooks filled.
    for (torch::Tensor& p : model->parameters()) p.grad().fill_(42);
    reducer.finish();
    const auto parameters = model->parameters();
    for (size_t i = 0; i < parameters.size(); ++i) {
      EXPECT_TRUE(torch::equal(parameters[i].grad(), expected[i])) << "parameter " << i;
    }
    EXPECT_EQ(reducer.last_step_stats().allreduces, 1);
  });
  ASSERT_TRUE(failures.empty()) << failures.front();
}

TEST_F(DataParallelTest, MisuseIsAnErrorAndHooksGoAwayWithTheReducer) {
  const std::vector<Batch> batches = make_batches(3);
  torch::nn::Sequential model = make_mlp(4);
  auto loss_of = [&] {
    return torch::mse_loss(model->forward(batches[0].inputs), batches[0].targets);
  };
  auto failures = run_ranks(1, [&](int, const CommBackendPtr& group) {
    const auto parameters = model->parameters();
    EXPECT_THROW(GradientReducer(parameters, *group, 2), Error);  // world size != group size
    EXPECT_THROW(GradientReducer({}, *group, 1), Error);
    EXPECT_THROW(GradientReducer({parameters[0], parameters[0]}, *group, 1), Error);
    EXPECT_THROW(GradientReducer({torch::zeros({2})}, *group, 1), Error);  // no requires_grad
    {
      GradientReducer reducer(parameters, *group, 1, kSmallBucketCap);
      EXPECT_THROW(reducer.finish(), Error);      // without prepare()
      EXPECT_THROW(loss_of().backward(), Error);  // a gradient outside prepare()/finish()
      reducer.prepare();
      loss_of().backward();
      try {
        loss_of().backward();
        ADD_FAILURE() << "a second backward in one step did not throw";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("second gradient"), std::string::npos) << e.what();
      }
      EXPECT_NO_THROW(reducer.finish());  // the first backward's buckets still complete
    }
    // Without the reducer the hooks are gone: training outside prepare()/finish() works.
    model->zero_grad();
    EXPECT_NO_THROW(loss_of().backward());
    EXPECT_GT(parameters[0].grad().abs().sum().item<double>(), 0);
  });
  ASSERT_TRUE(failures.empty()) << failures.front();
}

}  // namespace
}  // namespace dlbench
