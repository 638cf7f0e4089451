// IDX, the format of LeCun's MNIST files (and Fashion-MNIST): a 4-byte magic number
// (0, 0, type code, dimension count), one big-endian 32-bit size per dimension, then the values
// big-endian in C order. Files may be gzip-compressed (detected by the gzip magic bytes, not the
// name). Formats, checks and messages: docs/data-formats.md.
#pragma once

#include <torch/torch.h>

#include <string>

namespace dlbench::data {

/// Reads an IDX file, raw or gzip-compressed, into a CPU tensor of the type code's dtype
/// (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64) and the
/// header's shape, converted from big-endian. Throws dlbench::Error "<path>: <reason>" for a
/// missing or empty file, a bad magic number (naming what the file looks like instead), an
/// unknown type code, a dimension count outside 1..8, data shorter or longer than the header
/// declares, or a corrupt or truncated gzip stream; never returns a partial tensor.
torch::Tensor read_idx(const std::string& path);

/// Writes `tensor` (CPU or not; dtype uint8, int8, int16, int32, float32 or float64; 1..8
/// dimensions, each below 2^31) as an IDX file, gzip-compressed when `gzip` is true. Throws
/// dlbench::Error naming `path` on an unsupported tensor or a write error.
void write_idx(const std::string& path, const torch::Tensor& tensor, bool gzip);

/// Images and labels read from two IDX files that belong together.
struct IdxPair {
  torch::Tensor images;  ///< [N, ...] as stored
  torch::Tensor labels;  ///< [N] as stored
};

/// Reads an images file and a labels file and checks that they pair up: the labels are
/// one-dimensional with an integer type and there are as many labels as images. Throws
/// dlbench::Error naming both files otherwise.
IdxPair read_idx_pair(const std::string& images_path, const std::string& labels_path);

}  // namespace dlbench::data
