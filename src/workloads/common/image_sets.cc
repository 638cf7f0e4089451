// Labelled grey image sets (see image_sets.h).
#include "workloads/common/image_sets.h"

#include <fmt/core.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/error.h"
#include "core/safe_file.h"
#include "core/strings.h"
#include "data/catalog.h"
#include "data/idx.h"
#include "data/image.h"
#include "nn/quality_metrics.h"

namespace dlbench::common {

namespace {

/// Pads normalised grey images [B, 1, H, W] with the normalised black value up to size x size,
/// centred (shared by the in-memory and the folder sources).
torch::Tensor pad_to(torch::Tensor images, int64_t size, double mean, double std) {
  int64_t pad_h = size - images.size(2), pad_w = size - images.size(3);
  if (pad_h <= 0 && pad_w <= 0) return images;
  return torch::constant_pad_nd(
      images, {pad_w / 2, pad_w - pad_w / 2, pad_h / 2, pad_h - pad_h / 2}, (0.0 - mean) / std);
}

/// A generator for sample `index` of a fixed generated set: splitmix64 of (seed, index).
std::mt19937_64 sample_rng(uint64_t seed, int64_t index) {
  uint64_t z = seed * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(index) + 0x632be59bd9b4e019ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return std::mt19937_64(z ^ (z >> 31));
}

int64_t uniform_int(std::mt19937_64& rng, int64_t lo, int64_t hi) {  // [lo, hi]
  return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
}

}  // namespace

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
    throw Error(fmt::format("{}: {} labels for {} images", labels_path, set.labels.numel(),
                            set.images.size(0)));
  }
  set.labels = set.labels.to(torch::kLong);
  if (set.labels.min().item<int64_t>() < 0 || set.labels.max().item<int64_t>() >= 10) {
    throw Error(labels_path + ": a label is outside 0..9");
  }
  set.description =
      fmt::format("{} {} ({} images, {} package {} {})", dataset, train ? "train" : "test",
                  set.images.size(0), info.kind, info.package, info.version);
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
  set.description = fmt::format(
      "generated {} set ({} images: 10 random smooth patterns, shifted up to 2 px, "
      "noise sigma 0.35; exact labels)",
      train ? "train" : "test", samples);
  return set;
}

ImageClassificationSource::ImageClassificationSource(LabelledImages set, int64_t size, double mean,
                                                     double std)
    : set_(std::move(set)), size_(size), mean_(mean), std_(std) {
  if (set_.images.size(1) > size_ || set_.images.size(2) > size_) {
    throw Error(fmt::format("images of {} x {} do not fit the model's {} x {} input",
                            set_.images.size(1), set_.images.size(2), size_, size_));
  }
}

data::Batch ImageClassificationSource::load(const std::vector<int64_t>& indices, uint64_t) const {
  torch::Tensor index = torch::tensor(indices, torch::kLong);
  torch::Tensor images = set_.images.index_select(0, index).to(torch::kFloat).div_(255);
  images = images.sub_(mean_).div_(std_).unsqueeze(1);
  data::Batch batch;
  // Padded with the normalised value of a black pixel, as padding the raw image would.
  batch.tensors = {pad_to(images, size_, mean_, std_).contiguous(),
                   set_.labels.index_select(0, index)};
  batch.size = static_cast<int64_t>(indices.size());
  return batch;
}

std::string write_png_folder(const LabelledImages& set, const std::string& name) {
  namespace fs = std::filesystem;
  const std::string generated = data::data_directory() + "/generated";
  const std::string root = generated + "/" + name;
  const std::string marker = root + "/.complete";
  if (fs::exists(marker)) return root;
  // Two runs generating the folder at once take turns; the second finds it complete.
  data::make_directories(generated);
  std::unique_ptr<FileLock> lock = FileLock::acquire(root);
  if (fs::exists(marker)) return root;
  // Written in a private directory (nothing planted there is followed), moved into place whole.
  const std::string partial = make_private_directory(generated, "." + name + ".partial-");
  try {
    torch::Tensor images = set.images.contiguous();
    torch::Tensor labels = set.labels.contiguous();
    for (int64_t i = 0; i < images.size(0); ++i) {
      std::string dir = fmt::format("{}/{}", partial, labels[i].item<int64_t>());
      if (i < set.classes || !fs::exists(dir)) data::make_directories(dir);
      std::vector<uint8_t> png = data::encode_png(images[i]);
      std::string path = fmt::format("{}/{:06}.png", dir, i);
      write_file(path, std::string_view(reinterpret_cast<const char*>(png.data()), png.size()),
                 WriteOptions{0644, false, "generated image"});
    }
    write_file(partial + "/.complete", set.description + "\n",
               WriteOptions{0644, true, "generated image folder's marker"});
    ::chmod(partial.c_str(), 0755);  // mkdtemp made it private; the finished folder is not
    remove_tree(root);               // an unfinished one from an older run
    if (::rename(partial.c_str(), root.c_str()) != 0) {
      throw Error("cannot move the generated images into '" + root + "': " + system_reason(errno));
    }
  } catch (...) {
    remove_tree(partial);
    throw;
  }
  return root;
}

struct ImageFolderSource::Folder {
  data::ImageFolder folder;
};

ImageFolderSource::ImageFolderSource(const std::string& root, int64_t height, int64_t width,
                                     int64_t size, double mean, double std)
    : size_(size), mean_(mean), std_(std) {
  if (height > size || width > size) {
    throw Error(fmt::format("images of {} x {} do not fit the model's {} x {} input", height, width,
                            size, size));
  }
  data::ImageFolderOptions options;
  options.height = height;
  options.width = width;
  options.channels = 1;
  folder_ = std::make_shared<Folder>(Folder{data::read_image_folder(root, options)});
}

int64_t ImageFolderSource::size() const { return folder_->folder.size(); }

data::Batch ImageFolderSource::load(const std::vector<int64_t>& indices, uint64_t) const {
  std::vector<torch::Tensor> images;
  std::vector<int64_t> labels;
  for (int64_t i : indices) {
    images.push_back(folder_->folder.load(i).select(2, 0));  // decode: [H, W]
    labels.push_back(folder_->folder.labels()[static_cast<size_t>(i)]);
  }
  torch::Tensor batch_images = torch::stack(images).to(torch::kFloat).div_(255);
  batch_images = batch_images.sub_(mean_).div_(std_).unsqueeze(1);
  data::Batch batch;
  batch.tensors = {pad_to(batch_images, size_, mean_, std_).contiguous(),
                   torch::tensor(labels, torch::kLong)};
  batch.size = static_cast<int64_t>(indices.size());
  return batch;
}

std::string ImageFolderSource::describe() const {
  return fmt::format("image folder {} ({} PNG/JPEG files in {} classes, decoded per batch)",
                     folder_->folder.root(), size(), folder_->folder.classes().size());
}

torch::Tensor ink_boxes(const torch::Tensor& images) {
  torch::Tensor pixels = images.contiguous();
  const int64_t n = pixels.size(0), h = pixels.size(1), w = pixels.size(2);
  torch::Tensor boxes = torch::empty({n, 4}, torch::kLong);
  const uint8_t* p = pixels.data_ptr<uint8_t>();
  int64_t* b = boxes.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    int64_t x1 = w, y1 = h, x2 = 0, y2 = 0;
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t x = 0; x < w; ++x) {
        if (p[(i * h + y) * w + x] == 0) continue;
        x1 = std::min(x1, x);
        y1 = std::min(y1, y);
        x2 = std::max(x2, x + 1);
        y2 = std::max(y2, y + 1);
      }
    }
    if (x2 <= x1 || y2 <= y1) x1 = 0, y1 = 0, x2 = w, y2 = h;
    b[i * 4 + 0] = x1;
    b[i * 4 + 1] = y1;
    b[i * 4 + 2] = x2;
    b[i * 4 + 3] = y2;
  }
  return boxes;
}

std::vector<float> resize_grey(const uint8_t* pixels, int64_t height, int64_t width, int64_t out_h,
                               int64_t out_w) {
  std::vector<float> out(static_cast<size_t>(out_h * out_w));
  const double sy = static_cast<double>(height) / static_cast<double>(out_h);
  const double sx = static_cast<double>(width) / static_cast<double>(out_w);
  for (int64_t y = 0; y < out_h; ++y) {
    // Pixel-centre alignment (align_corners = false), clamped at the border.
    double fy =
        std::clamp((static_cast<double>(y) + 0.5) * sy - 0.5, 0.0, static_cast<double>(height - 1));
    auto y0 = static_cast<int64_t>(fy);
    int64_t y1 = std::min(y0 + 1, height - 1);
    double wy = fy - static_cast<double>(y0);
    for (int64_t x = 0; x < out_w; ++x) {
      double fx = std::clamp((static_cast<double>(x) + 0.5) * sx - 0.5, 0.0,
                             static_cast<double>(width - 1));
      auto x0 = static_cast<int64_t>(fx);
      int64_t x1 = std::min(x0 + 1, width - 1);
      double wx = fx - static_cast<double>(x0);
      double top = pixels[y0 * width + x0] * (1 - wx) + pixels[y0 * width + x1] * wx;
      double bottom = pixels[y1 * width + x0] * (1 - wx) + pixels[y1 * width + x1] * wx;
      out[static_cast<size_t>(y * out_w + x)] =
          static_cast<float>((top * (1 - wy) + bottom * wy) / 255.0);
    }
  }
  return out;
}

DigitCanvasSource::DigitCanvasSource(LabelledImages digits, CanvasOptions options, int64_t samples,
                                     uint64_t seed)
    : digits_(std::move(digits)), options_(options), samples_(samples), seed_(seed) {
  if (options_.min_side < 4 || options_.max_side < options_.min_side ||
      options_.max_side > options_.size || options_.max_digits < 1) {
    throw Error(fmt::format("digit canvases: digit sides {}..{} do not fit a {} canvas",
                            options_.min_side, options_.max_side, options_.size));
  }
  digits_.images = digits_.images.contiguous();
  ink_ = ink_boxes(digits_.images);
}

data::Batch DigitCanvasSource::load(const std::vector<int64_t>& indices, uint64_t) const {
  const int64_t b = static_cast<int64_t>(indices.size()), s = options_.size,
                k = options_.max_digits;
  const int64_t dh = digits_.images.size(1), dw = digits_.images.size(2);
  torch::Tensor images = torch::zeros({b, 1, s, s});
  torch::Tensor boxes = torch::zeros({b, k, 4});
  torch::Tensor classes = torch::full({b, k}, -1, torch::kLong);
  float* image = images.data_ptr<float>();
  float* box = boxes.data_ptr<float>();
  int64_t* cls = classes.data_ptr<int64_t>();
  const uint8_t* pixels = digits_.images.data_ptr<uint8_t>();
  const int64_t* ink = ink_.data_ptr<int64_t>();
  const int64_t* labels = digits_.labels.data_ptr<int64_t>();
  const int64_t pool = digits_.images.size(0);
  for (int64_t i = 0; i < b; ++i) {
    std::mt19937_64 rng = sample_rng(seed_, indices[static_cast<size_t>(i)]);
    const int64_t count = uniform_int(rng, 1, k);
    std::vector<std::array<double, 4>> placed;
    for (int64_t d = 0; d < count; ++d) {
      const int64_t digit = uniform_int(rng, 0, pool - 1);
      const int64_t side = uniform_int(rng, options_.min_side, options_.max_side);
      const double scale = static_cast<double>(side) / static_cast<double>(dh);
      const int64_t* ib = ink + digit * 4;
      // Up to 50 tries for a place whose ink box stays clear of the ones already placed; a
      // digit that finds none is left out (the canvas then has fewer).
      for (int attempt = 0; attempt < 50; ++attempt) {
        const int64_t x = uniform_int(rng, 0, s - side), y = uniform_int(rng, 0, s - side);
        std::array<double, 4> candidate = {x + ib[0] * scale, y + ib[1] * scale, x + ib[2] * scale,
                                           y + ib[3] * scale};
        bool clear = true;
        for (const auto& other : placed) {
          if (nn::corner_box_iou(candidate.data(), other.data()) >= options_.max_overlap)
            clear = false;
        }
        if (!clear) continue;
        std::vector<float> resized = resize_grey(pixels + digit * dh * dw, dh, dw, side, side);
        for (int64_t r = 0; r < side; ++r) {
          for (int64_t c = 0; c < side; ++c) {
            float& out = image[(i * s + y + r) * s + x + c];
            out = std::max(out, resized[static_cast<size_t>(r * side + c)]);
          }
        }
        const size_t slot = placed.size();
        for (int j = 0; j < 4; ++j)
          box[(i * k + static_cast<int64_t>(slot)) * 4 + j] =
              static_cast<float>(candidate[static_cast<size_t>(j)]);
        cls[i * k + static_cast<int64_t>(slot)] = labels[digit];
        placed.push_back(candidate);
        break;
      }
    }
  }
  data::Batch batch;
  batch.tensors = {images, boxes, classes};
  batch.size = b;
  return batch;
}

std::string DigitCanvasSource::describe() const {
  return fmt::format(
      "{} detection canvases of {} x {} with 1-{} digits of {}-{} px (ink boxes "
      "exact) from {}",
      samples_, options_.size, options_.size, options_.max_digits, options_.min_side,
      options_.max_side, digits_.description);
}

DigitStringSource::DigitStringSource(LabelledImages digits, int64_t width, int64_t max_length,
                                     int64_t samples, uint64_t seed)
    : digits_(std::move(digits)),
      width_(width),
      max_length_(max_length),
      samples_(samples),
      seed_(seed) {
  if (max_length_ < 1 || width_ < 16) {
    throw Error("digit strings: need a width of at least 16 and a length of at least 1");
  }
  digits_.images = digits_.images.contiguous();
  ink_ = ink_boxes(digits_.images);
}

data::Batch DigitStringSource::load(const std::vector<int64_t>& indices, uint64_t) const {
  constexpr int64_t kHeight = 32;
  const int64_t b = static_cast<int64_t>(indices.size());
  const int64_t dh = digits_.images.size(1), dw = digits_.images.size(2);
  torch::Tensor images = torch::zeros({b, 1, kHeight, width_});
  torch::Tensor targets = torch::zeros({b, max_length_}, torch::kLong);
  torch::Tensor lengths = torch::zeros({b}, torch::kLong);
  float* image = images.data_ptr<float>();
  int64_t* target = targets.data_ptr<int64_t>();
  const uint8_t* pixels = digits_.images.data_ptr<uint8_t>();
  const int64_t* ink = ink_.data_ptr<int64_t>();
  const int64_t* labels = digits_.labels.data_ptr<int64_t>();
  const int64_t pool = digits_.images.size(0);
  for (int64_t i = 0; i < b; ++i) {
    std::mt19937_64 rng = sample_rng(seed_, indices[static_cast<size_t>(i)]);
    const int64_t count = uniform_int(rng, 1, max_length_);
    std::vector<int64_t> chosen, gaps;
    for (int64_t d = 0; d < count; ++d) {
      chosen.push_back(uniform_int(rng, 0, pool - 1));
      gaps.push_back(d == 0 ? 0 : uniform_int(rng, 0, 4));
    }
    // A common height of 22..32 px for the 28-row frame, shrunk when the string would not fit.
    double height = static_cast<double>(uniform_int(rng, 22, 32));
    auto total_width = [&](double h) {
      double sum = 0;
      for (int64_t d = 0; d < count; ++d) {
        const int64_t* ib = ink + chosen[static_cast<size_t>(d)] * 4;
        sum += std::max<int64_t>(1, std::lround((ib[2] - ib[0]) * h / dh)) +
               gaps[static_cast<size_t>(d)];
      }
      return sum;
    };
    while (height > 8 && total_width(height) > static_cast<double>(width_)) height -= 1;
    const auto out_h = static_cast<int64_t>(height);
    const int64_t free = std::max<int64_t>(0, width_ - static_cast<int64_t>(total_width(height)));
    int64_t x = uniform_int(rng, 0, free);
    const int64_t y = uniform_int(rng, 0, kHeight - out_h);
    for (int64_t d = 0; d < count; ++d) {
      const int64_t digit = chosen[static_cast<size_t>(d)];
      const int64_t* ib = ink + digit * 4;
      x += gaps[static_cast<size_t>(d)];
      const int64_t out_w = std::max<int64_t>(1, std::lround((ib[2] - ib[0]) * height / dh));
      // Resize the whole frame's height and the ink columns' width.
      const int64_t cols = ib[2] - ib[0];
      std::vector<uint8_t> crop(static_cast<size_t>(dh * cols));
      for (int64_t r = 0; r < dh; ++r) {
        for (int64_t c = 0; c < cols; ++c) {
          crop[static_cast<size_t>(r * cols + c)] = pixels[(digit * dh + r) * dw + ib[0] + c];
        }
      }
      std::vector<float> resized = resize_grey(crop.data(), dh, cols, out_h, out_w);
      for (int64_t r = 0; r < out_h; ++r) {
        for (int64_t c = 0; c < out_w && x + c < width_; ++c) {
          float& out = image[(i * kHeight + y + r) * width_ + x + c];
          out = std::max(out, resized[static_cast<size_t>(r * out_w + c)]);
        }
      }
      x += out_w;
      target[i * max_length_ + d] = labels[digit] + 1;
    }
    lengths.data_ptr<int64_t>()[i] = count;
  }
  data::Batch batch;
  batch.tensors = {images.mul_(2).sub_(1), targets, lengths};
  batch.size = b;
  return batch;
}

std::string DigitStringSource::describe() const {
  return fmt::format("{} text lines of 32 x {} with 1-{} real digits (exact transcripts) from {}",
                     samples_, width_, max_length_, digits_.description);
}

}  // namespace dlbench::common
