// Image readers: PNG and JPEG decoding and encoding (libpng, libjpeg) into uint8 HWC tensors,
// and an image-folder dataset (root/<class>/<file>.png|jpg|jpeg) that decodes on demand.
// Also the two file helpers every reader of src/data shares: reading a file's bytes and naming
// what a file's first bytes look like, for error messages ("this looks like a PNG image").
// Formats, checks and messages: docs/data-formats.md.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dlbench::data {

/// Reads a whole file. Throws dlbench::Error naming `path` when it cannot be opened or read,
/// is a directory, or is larger than `max_bytes`.
std::vector<uint8_t> read_file_bytes(const std::string& path, int64_t max_bytes = int64_t{1} << 32);

/// Size of a file in bytes; throws dlbench::Error naming `path` when it cannot be examined
/// (missing, no permission) or is not a regular file (a directory, a FIFO, a device).
int64_t file_size(const std::string& path);

/// Opens a regular file for reading and returns its descriptor (the caller closes it); the open
/// never blocks, so a FIFO is refused ("PATH: is a FIFO, not a regular file") instead of hanging
/// the reader. Missing files: "PATH: cannot open: No such file or directory". `size` receives the
/// file's size when given.
int open_data_file(const std::string& path, int64_t* size = nullptr);

/// What a file's first bytes suggest it is, for error messages: "a PNG image", "a JPEG image",
/// "gzip-compressed data", "an HDF5 (netCDF-4) file", "a netCDF classic file", "text", "an
/// empty file", or "" when nothing is recognised.
std::string describe_content(const uint8_t* bytes, size_t size);

/// Decodes a PNG image into a uint8 tensor [height, width, channels], channels 1 (grey) or 3
/// (RGB). Palette images become RGB, 16-bit samples keep their high byte, an alpha channel is
/// dropped (not composited), 1/2/4-bit grey is expanded to 0..255. `name` (a path) is used in
/// errors: a bad signature, a CRC error, truncated data or an image larger than 2^26 pixels (8192 x
/// 8192) throws dlbench::Error "<name>: PNG: <reason>".
torch::Tensor decode_png(const std::vector<uint8_t>& bytes, const std::string& name);

/// Decodes a baseline or progressive JPEG into a uint8 tensor [height, width, channels],
/// channels 1 (greyscale) or 3 (RGB; YCbCr is converted). libjpeg's warnings (such as a
/// premature end of data, which libjpeg would otherwise fill with grey) are errors here:
/// dlbench::Error "<name>: JPEG: <libjpeg's message>". Never exits the process.
torch::Tensor decode_jpeg(const std::vector<uint8_t>& bytes, const std::string& name);

/// Decodes PNG or JPEG, chosen by the content's signature (not the name). Anything else
/// throws dlbench::Error naming what the content looks like.
torch::Tensor decode_image(const std::vector<uint8_t>& bytes, const std::string& name);

/// Encodes a uint8 tensor [H, W, C] (C = 1 or 3) or [H, W] as an 8-bit PNG.
std::vector<uint8_t> encode_png(const torch::Tensor& image);

/// Encodes a uint8 tensor [H, W, C] (C = 1 or 3) or [H, W] as a baseline JPEG of the given
/// quality (1..100).
std::vector<uint8_t> encode_jpeg(const torch::Tensor& image, int quality = 90);

/// How an image folder is read.
struct ImageFolderOptions {
  int64_t height = 0;  ///< required image height; 0 accepts any (then batches need a resize)
  int64_t width = 0;   ///< required image width; 0 accepts any
  int channels = 0;    ///< 1 or 3 converts every image (grey <-> RGB); 0 keeps what is stored
};

/// An image-classification folder: root/<class>/<file>. Classes are the sub-folders sorted by
/// name (label = index); files are sorted by name within a class.
class ImageFolder {
 public:
  /// Root folder as given.
  const std::string& root() const { return root_; }
  /// Class names, sorted; label i is classes()[i].
  const std::vector<std::string>& classes() const { return classes_; }
  /// Every image file's path, class by class.
  const std::vector<std::string>& files() const { return files_; }
  /// Label of each file.
  const std::vector<int64_t>& labels() const { return labels_; }
  /// Number of images.
  int64_t size() const { return static_cast<int64_t>(files_.size()); }
  /// Reads and decodes image i into uint8 [H, W, C]. Thread-safe (no shared mutable state), so
  /// loader workers can call it at once. Throws dlbench::Error naming the file when its content
  /// is not the format its extension says, it is truncated or corrupt, or its size differs from
  /// the one the options require.
  torch::Tensor load(int64_t index) const;

 private:
  friend ImageFolder read_image_folder(const std::string& root, const ImageFolderOptions& options);
  std::string root_;
  ImageFolderOptions options_;
  std::vector<std::string> classes_;
  std::vector<std::string> files_;
  std::vector<int64_t> labels_;
};

/// Scans root/<class>/<files>. Accepted extensions: .png, .jpg, .jpeg (any case). Files and
/// folders whose names start with '.' are ignored. Throws dlbench::Error naming the path when
/// the root is missing or not a folder, has no class folders, a class folder is empty, or a
/// file has another extension (a non-image file). Contents are checked when loaded.
ImageFolder read_image_folder(const std::string& root, const ImageFolderOptions& options = {});

}  // namespace dlbench::data
