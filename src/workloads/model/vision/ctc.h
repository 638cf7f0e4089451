// CTC decoding for sequence recognisers (model/crnn). Defined in crnn.cc.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace dlbench::model {

/// Best-path CTC decoding: per sequence, the most likely class of each frame, repeats collapsed
/// and blanks dropped. `scores` is [T, B, C] (logits or log-probabilities); returns B label
/// sequences.
std::vector<std::vector<int64_t>> ctc_greedy_decode(const torch::Tensor& scores, int64_t blank);

}  // namespace dlbench::model
