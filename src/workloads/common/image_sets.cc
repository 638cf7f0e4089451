// Labelled grey image sets (see image_sets.h).
#include "workloads/common/image_sets.h"

#include "core/error.h"
#include "core/strings.h"
#include "data/catalog.h"
#include "data/idx.h"

namespace dlbench::common {

LabelledImages load_image_set(const std::string& dataset, bool train) {
  const data::DatasetInfo& info = data::dataset_info(dataset);
  const bool gzip = dataset == "fashion_mnist";
  const std::string prefix = train ? "train" : "t10k";
  const std::string suffix = gzip ? ".gz" : "";
  std::string images_path = data::dataset_file(dataset, prefix + "-images-idx3-ubyte" + suffix);
  std::string labels_path = data::dataset_file(dataset, prefix + "-labels-idx1-ubyte" + suffix);
  LabelledImages set;
  set.images = data::read_idx(images_path);
  set.labels = data::read_idx(labels_path);
  if (set.images.dim() != 3 || set.images.scalar_type() != torch::kUInt8) {
    throw Error(images_path + ": expected unsigned-byte images N x H x W");
  }
  if (set.labels.dim() != 1 || set.labels.size(0) != set.images.size(0)) {
    throw Error(strprintf("%s: %lld labels for %lld images", labels_path.c_str(),
                          static_cast<long long>(set.labels.numel()),
                          static_cast<long long>(set.images.size(0))));
  }
  set.labels = set.labels.to(torch::kLong);
  if (set.labels.min().item<int64_t>() < 0 || set.labels.max().item<int64_t>() >= 10) {
    throw Error(labels_path + ": a label is outside 0..9");
  }
  set.description = strprintf("%s %s (%lld images, %s package %s %s)", dataset.c_str(),
                              train ? "train" : "test", static_cast<long long>(set.images.size(0)),
                              info.kind.c_str(), info.package.c_str(), info.version.c_str());
  return set;
}

LabelledImages generated_image_set(int64_t samples, bool train, uint64_t seed) {
  constexpr int64_t kEdge = 28, kClasses = 10;
  torch::Generator patterns = at::detail::createCPUGenerator(seed * 7919 + 17);
  // Smooth class patterns: 7x7 noise upsampled to 24x24, placed in the middle of 28x28.
  torch::Tensor coarse = torch::rand({kClasses, 1, 7, 7}, patterns);
  torch::Tensor smooth =
      torch::nn::functional::interpolate(coarse, torch::nn::functional::InterpolateFuncOptions()
                                                     .size(std::vector<int64_t>{24, 24})
                                                     .mode(torch::kBilinear)
                                                     .align_corners(false));
  torch::Tensor templates = torch::zeros({kClasses, kEdge, kEdge});
  templates.slice(1, 2, 26).slice(2, 2, 26).copy_(smooth.squeeze(1));

  torch::Generator draws = at::detail::createCPUGenerator(seed * 104729 + (train ? 1 : 2));
  LabelledImages set;
  set.labels = torch::randint(0, kClasses, {samples}, draws, torch::kLong);
  torch::Tensor shifts = torch::randint(-2, 3, {samples, 2}, draws, torch::kLong);
  torch::Tensor images = templates.index_select(0, set.labels).clone();
  for (int64_t i = 0; i < samples; ++i) {
    images[i] = torch::roll(images[i], {shifts[i][0].item<int64_t>(), shifts[i][1].item<int64_t>()},
                            {0, 1});
  }
  images = images + 0.35 * torch::randn(images.sizes(), draws);
  set.images = (images.clamp(0, 1) * 255).round().to(torch::kUInt8);
  set.classes = kClasses;
  set.description = strprintf(
      "generated %s set (%lld images: 10 random smooth patterns, shifted up to 2 px, "
      "noise sigma 0.35; exact labels)",
      train ? "train" : "test", static_cast<long long>(samples));
  return set;
}

ImageClassificationSource::ImageClassificationSource(LabelledImages set, int64_t size, double mean,
                                                     double std)
    : set_(std::move(set)), size_(size), mean_(mean), std_(std) {
  if (set_.images.size(1) > size_ || set_.images.size(2) > size_) {
    throw Error(strprintf("images of %lld x %lld do not fit the model's %lld x %lld input",
                          static_cast<long long>(set_.images.size(1)),
                          static_cast<long long>(set_.images.size(2)),
                          static_cast<long long>(size_), static_cast<long long>(size_)));
  }
}

data::Batch ImageClassificationSource::load(const std::vector<int64_t>& indices, uint64_t) const {
  torch::Tensor index = torch::tensor(indices, torch::kLong);
  torch::Tensor images = set_.images.index_select(0, index).to(torch::kFloat).div_(255);
  images = images.sub_(mean_).div_(std_).unsqueeze(1);
  int64_t pad_h = size_ - images.size(2), pad_w = size_ - images.size(3);
  if (pad_h > 0 || pad_w > 0) {
    // Pad with the normalised value of a black pixel, as padding the raw image would.
    images = torch::constant_pad_nd(
        images, {pad_w / 2, pad_w - pad_w / 2, pad_h / 2, pad_h - pad_h / 2}, (0.0 - mean_) / std_);
  }
  data::Batch batch;
  batch.tensors = {images.contiguous(), set_.labels.index_select(0, index)};
  batch.size = static_cast<int64_t>(indices.size());
  return batch;
}

}  // namespace dlbench::common
