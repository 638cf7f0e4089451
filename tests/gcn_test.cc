// model/gcn: the renormalised adjacency of a hand-made graph, the sparse product against the dense
// one (values, gradients and FLOPs), and every node counted as a sample.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "core/registry.h"
#include "test_util.h"
#include "workloads/model/graph/gcn.h"
#include "workloads/model/model.h"

namespace dlbench {
namespace {

TEST(GcnAdjacency, RenormalisesAHandMadeThreeNodeGraph) {
  // Path 0 - 1 - 2 with self loops: degrees 2, 3, 2. Â_ij = 1 / sqrt(d_i d_j) on edges.
  torch::Tensor edges = torch::tensor({0, 2, 1, 1}, torch::kLong).view({2, 2});  // (0,1), (2,1)
  torch::Tensor a = model::normalized_adjacency(edges, 3);
  EXPECT_TRUE(a.is_sparse());
  EXPECT_TRUE(a.is_coalesced());
  EXPECT_EQ(a._nnz(), 2 * 2 + 3);
  const double s6 = 1 / std::sqrt(6.0);
  torch::Tensor expected =
      torch::tensor({0.5, s6, 0.0, s6, 1.0 / 3, s6, 0.0, s6, 0.5}, torch::kDouble).view({3, 3});
  EXPECT_TRUE(torch::allclose(a.to_dense().to(torch::kDouble), expected, 1e-6, 1e-7))
      << a.to_dense();
}

TEST(GcnAdjacency, SparseProductEqualsTheDenseProductWithGradients) {
  torch::manual_seed(9);
  const int64_t n = 40;
  torch::Tensor pairs = torch::randint(n, {2, 80}, torch::kLong);
  pairs = pairs.index_select(1, torch::nonzero(pairs[0] != pairs[1]).view(-1));
  torch::Tensor keys = std::get<0>(
      at::_unique(torch::minimum(pairs[0], pairs[1]) * n + torch::maximum(pairs[0], pairs[1])));
  torch::Tensor edges = torch::stack({keys.div(n, "floor"), keys.remainder(n)});
  torch::Tensor a = model::normalized_adjacency(edges, n);
  torch::Tensor dense_a = a.to_dense();
  EXPECT_TRUE(torch::allclose(dense_a, dense_a.t()));
  torch::Tensor x = torch::randn({n, 5}, torch::requires_grad());
  torch::Tensor y = model::sparse_product(a, x);
  torch::Tensor x2 = x.detach().clone().requires_grad_(true);
  torch::Tensor y2 = torch::mm(dense_a, x2);
  EXPECT_TRUE(torch::allclose(y, y2, 1e-5, 1e-6));
  torch::Tensor g = torch::randn({n, 5});
  (y * g).sum().backward();
  (y2 * g).sum().backward();
  EXPECT_TRUE(torch::allclose(x.grad(), x2.grad(), 1e-5, 1e-6));
}

TEST(GcnAdjacency, SparseProductRecordsTwoFlopsPerNonZeroAndColumn) {
  torch::Tensor edges = torch::tensor({0, 2, 1, 1}, torch::kLong).view({2, 2});
  torch::Tensor a = model::normalized_adjacency(edges, 3);
  torch::Tensor x = torch::randn({3, 4}, torch::requires_grad());
  model::FlopCounter counter;
  model::sparse_product(a, x);
  EXPECT_EQ(counter.tally().forward, 2.0 * 7 * 4);
  EXPECT_EQ(counter.tally().backward, 2.0 * 7 * 4);  // data gradient only
}

TEST(GcnModel, CountsEveryNodeAsASample) {
  Result r = testing::run_problem("model/gcn size=tiny mode=infer");
  ASSERT_EQ(r.status, Status::kPassed) << r.reason;
  EXPECT_EQ(r.work.sample_unit, "nodes");
  EXPECT_EQ(r.work.samples, 300);
}

}  // namespace
}  // namespace dlbench
