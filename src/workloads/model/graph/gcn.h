// model/gcn's graph operations, declared for the tests: the renormalised adjacency of Kipf &
// Welling (2017) as a sparse tensor, and the counted sparse-dense product. Defined in gcn.cc.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace dlbench::model {

/// Â = D^-1/2 (A + I) D^-1/2 of an undirected graph: `edges` [2, E] (int64) lists each edge once
/// (either direction; no self loops, no duplicates), `nodes` is N. Returns a coalesced sparse COO
/// [N, N] fp32 tensor with 2E + N non-zeros on `edges`' device.
torch::Tensor normalized_adjacency(const torch::Tensor& edges, int64_t nodes);

/// adjacency (sparse [N, N]) x dense [N, C] in fp32 (outside autocast), recorded as
/// 2 x nnz x C FLOPs; its backward (the data gradient, another sparse product Â^T x grad) is
/// recorded when `dense` needs a gradient; the adjacency is constant (no weight gradient).
torch::Tensor sparse_product(const torch::Tensor& adjacency, const torch::Tensor& dense);

}  // namespace dlbench::model
