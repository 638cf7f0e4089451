// PNG and JPEG decoding/encoding with libpng and libjpeg, the image-folder dataset, and the file
// helpers the readers share. libpng and libjpeg report errors by calling a handler that must
// not return; here the handlers record the message and longjmp back to the decoding function,
// which frees the library's state and throws dlbench::Error. Inside the functions that call
// setjmp only plain C locals live, so the jump skips no C++ destructor.
#include "data/image.h"

#include <fmt/core.h>
#include <jpeglib.h>
#include <png.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "core/strings.h"

namespace dlbench::data {

namespace fs = std::filesystem;

namespace {

// 64 Mpixel (8192 x 8192): beyond this a header most likely lies.
constexpr uint64_t kMaxPixels = uint64_t{1} << 26;
constexpr uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

bool is_png(const std::vector<uint8_t>& bytes) {
  return bytes.size() >= 8 && std::memcmp(bytes.data(), kPngSignature, 8) == 0;
}

bool is_jpeg(const std::vector<uint8_t>& bytes) {
  return bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
}

std::string content_or_unknown(const std::vector<uint8_t>& bytes) {
  std::string kind = describe_content(bytes.data(), bytes.size());
  return kind.empty() ? "unrecognised data" : kind;
}

// Checks an image tensor for the encoders and returns it as contiguous uint8 [H, W, C].
torch::Tensor encodable(const torch::Tensor& image, const char* format) {
  if (image.scalar_type() != torch::kUInt8) {
    throw Error(fmt::format("encode_{}: the image must be uint8, got {}", format,
                            std::string(c10::toString(image.scalar_type()))));
  }
  torch::Tensor hwc = image.dim() == 2 ? image.unsqueeze(2) : image;
  if (hwc.dim() != 3 || (hwc.size(2) != 1 && hwc.size(2) != 3) || hwc.size(0) < 1 ||
      hwc.size(1) < 1 || hwc.size(0) > 65535 || hwc.size(1) > 65535) {
    throw Error(
        fmt::format("encode_{}: the image must be [H, W] or [H, W, 1|3] with 1 <= H, W <= "
                    "65535, got {} dimensions",
                    format, static_cast<int>(image.dim())));
  }
  return hwc.cpu().contiguous();
}

// ---- PNG ----

struct PngState {
  const uint8_t* data = nullptr;  // reading: the encoded bytes
  size_t size = 0;
  size_t position = 0;
  std::vector<uint8_t>* output = nullptr;  // writing: where the encoded bytes go
  char message[256] = {0};
  jmp_buf jump;
};

void png_on_error(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(state->message, sizeof state->message, "%s", message);
  std::longjmp(state->jump, 1);
}

void png_on_warning(png_structp, png_const_charp) {}  // ancillary-chunk trouble: not fatal

void png_read_memory(png_structp png, png_bytep out, png_size_t length) {
  auto* state = static_cast<PngState*>(png_get_io_ptr(png));
  if (length > state->size - state->position) {
    png_error(png, "truncated: the data ends before the image does");
  }
  std::memcpy(out, state->data + state->position, length);
  state->position += length;
}

void png_write_memory(png_structp png, png_bytep data, png_size_t length) {
  auto* state = static_cast<PngState*>(png_get_io_ptr(png));
  state->output->insert(state->output->end(), data, data + length);
}

void png_flush_memory(png_structp) {}

// Decodes into `pixels`; false (with state->message) on error. Only C locals here (setjmp).
bool png_decode_into(PngState* state, std::vector<uint8_t>* pixels, uint32_t* width_out,
                     uint32_t* height_out, int* channels_out) {
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, state, png_on_error, png_on_warning);
  if (png == nullptr) {
    std::snprintf(state->message, sizeof state->message, "cannot create the libpng reader");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    std::snprintf(state->message, sizeof state->message, "cannot create the libpng reader");
    return false;
  }
  if (setjmp(state->jump)) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_set_read_fn(png, state, png_read_memory);
  png_set_user_limits(png, 65535, 65535);
  png_read_info(png, info);
  const uint32_t width = png_get_image_width(png, info);
  const uint32_t height = png_get_image_height(png, info);
  const int color_type = png_get_color_type(png, info);
  const int bit_depth = png_get_bit_depth(png, info);
  if (uint64_t{width} * height > kMaxPixels) png_error(png, "image larger than 2^26 pixels");
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (bit_depth == 16) png_set_strip_16(png);
  if (color_type & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const int channels = png_get_channels(png, info);
  const size_t row_bytes = png_get_rowbytes(png, info);
  if ((channels != 1 && channels != 3) || row_bytes != size_t{width} * channels) {
    png_error(png, "unsupported pixel layout after conversion to 8-bit grey or RGB");
  }
  if (passes > 1) {
    // Interlaced: every pass touches every row, so the image is allocated whole.
    pixels->assign(row_bytes * height, 0);
    for (int pass = 0; pass < passes; ++pass) {
      for (uint32_t y = 0; y < height; ++y) {
        png_read_row(png, pixels->data() + y * row_bytes, nullptr);
      }
    }
  } else {
    // Grown row by row: a header that lies about the size fails when the data run out, before
    // the whole claimed image is allocated.
    pixels->clear();
    for (uint32_t y = 0; y < height; ++y) {
      pixels->resize(pixels->size() + row_bytes);
      png_read_row(png, pixels->data() + y * row_bytes, nullptr);
    }
  }
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  *width_out = width;
  *height_out = height;
  *channels_out = channels;
  return true;
}

// Encodes `hwc` (contiguous uint8 [H, W, C]); false (with state->message) on error.
bool png_encode_into(PngState* state, const uint8_t* pixels, uint32_t width, uint32_t height,
                     int channels) {
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, state, png_on_error, png_on_warning);
  if (png == nullptr) return false;
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    return false;
  }
  if (setjmp(state->jump)) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_set_write_fn(png, state, png_write_memory, png_flush_memory);
  png_set_IHDR(png, info, width, height, 8,
               channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (uint32_t y = 0; y < height; ++y) {
    png_write_row(png, const_cast<png_bytep>(pixels + size_t{y} * width * channels));
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

// ---- JPEG ----

struct JpegErrors {
  jpeg_error_mgr base;  // first member: libjpeg sees a jpeg_error_mgr*
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = {0};
};

[[noreturn]] void jpeg_on_error(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

// Warnings (level -1: corrupt data, premature end of data) are errors; trace messages are
// dropped. libjpeg's default prints them and carries on with made-up data.
void jpeg_on_message(j_common_ptr cinfo, int level) {
  if (level < 0) jpeg_on_error(cinfo);
}

void jpeg_silent(j_common_ptr) {}

bool jpeg_decode_into(JpegErrors* errors, const uint8_t* data, size_t size,
                      std::vector<uint8_t>* pixels, uint32_t* width_out, uint32_t* height_out,
                      int* channels_out) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&errors->base);
  errors->base.error_exit = jpeg_on_error;
  errors->base.emit_message = jpeg_on_message;
  errors->base.output_message = jpeg_silent;
  if (setjmp(errors->jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, const_cast<unsigned char*>(data), static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  if (uint64_t{cinfo.image_width} * cinfo.image_height > kMaxPixels) {
    std::snprintf(errors->message, sizeof errors->message, "image larger than 2^26 pixels");
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_start_decompress(&cinfo);
  const size_t stride = size_t{cinfo.output_width} * cinfo.output_components;
  // Grown row by row: a header that lies about the size fails when the data run out.
  pixels->clear();
  while (cinfo.output_scanline < cinfo.output_height) {
    const size_t y = cinfo.output_scanline;
    pixels->resize((y + 1) * stride);
    JSAMPROW row = pixels->data() + y * stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  *width_out = cinfo.output_width;
  *height_out = cinfo.output_height;
  *channels_out = cinfo.output_components;
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

bool jpeg_encode_into(JpegErrors* errors, const uint8_t* pixels, uint32_t width, uint32_t height,
                      int channels, int quality, unsigned char** buffer, unsigned long* size) {
  jpeg_compress_struct cinfo;
  cinfo.err = jpeg_std_error(&errors->base);
  errors->base.error_exit = jpeg_on_error;
  errors->base.output_message = jpeg_silent;
  if (setjmp(errors->jump)) {
    jpeg_destroy_compress(&cinfo);
    return false;
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, buffer, size);
  cinfo.image_width = width;
  cinfo.image_height = height;
  cinfo.input_components = channels;
  cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(pixels + size_t{cinfo.next_scanline} * width * channels);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return true;
}

torch::Tensor pixels_to_tensor(std::vector<uint8_t>& pixels, uint32_t width, uint32_t height,
                               int channels) {
  return torch::from_blob(pixels.data(), {int64_t{height}, int64_t{width}, int64_t{channels}},
                          torch::kUInt8)
      .clone();
}

std::string lower_extension(const fs::path& path) { return to_lower(path.extension().string()); }

}  // namespace

// ---- shared file helpers ----

int open_data_file(const std::string& path, int64_t* size) {
  OpenedFile file = open_regular_file(path);
  if (file.fd < 0) {
    throw Error(path + ": " + (file.system ? "cannot open: " : "") + file.problem);
  }
  if (size != nullptr) *size = file.size;
  return file.fd;
}

int64_t file_size(const std::string& path) {
  int64_t size = 0;
  ::close(open_data_file(path, &size));
  return size;
}

std::vector<uint8_t> read_file_bytes(const std::string& path, int64_t max_bytes) {
  int64_t size = 0;
  const int fd = open_data_file(path, &size);
  if (size > max_bytes) {
    ::close(fd);
    throw Error(fmt::format("{}: file too large ({}, at most {} accepted)", path,
                            format_bytes(static_cast<double>(size)),
                            format_bytes(static_cast<double>(max_bytes))));
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  size_t got = 0;
  int error = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? errno : 0;
      break;
    }
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  if (got != bytes.size()) {
    throw Error(fmt::format("{}: read error after {} of {} bytes{}{}", path, got, bytes.size(),
                            error ? ": " : "", error ? std::strerror(error) : ""));
  }
  return bytes;
}

std::string describe_content(const uint8_t* bytes, size_t size) {
  auto starts = [&](const char* magic, size_t n) {
    return size >= n && std::memcmp(bytes, magic, n) == 0;
  };
  if (size == 0) return "an empty file";
  if (starts("\x89PNG\r\n\x1a\n", 8)) return "a PNG image";
  if (size >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) return "a JPEG image";
  if (size >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B) return "gzip-compressed data";
  if (starts("\x89HDF\r\n\x1a\n", 8)) return "an HDF5 file (netCDF-4)";
  if (starts("CDF", 3) && size >= 4 && (bytes[3] == 1 || bytes[3] == 2 || bytes[3] == 5)) {
    return "a netCDF classic file";
  }
  if (starts("GIF8", 4)) return "a GIF image";
  if (starts("PK\x03\x04", 4)) return "a ZIP archive";
  if (size >= 4 && bytes[0] == 0 && bytes[1] == 0 && bytes[2] >= 0x08 && bytes[2] <= 0x0E &&
      bytes[3] >= 1 && bytes[3] <= 8) {
    return "an IDX file";
  }
  const size_t probe = std::min<size_t>(size, 512);
  for (size_t i = 0; i < probe; ++i) {
    const uint8_t c = bytes[i];
    if (c < 0x09 || (c > 0x0D && c < 0x20) || c == 0x7F) return "";
  }
  return "text";
}

// ---- decoding and encoding ----

torch::Tensor decode_png(const std::vector<uint8_t>& bytes, const std::string& name) {
  if (!is_png(bytes)) {
    throw Error(fmt::format("{}: PNG: not a PNG image (no PNG signature; the content is {})", name,
                            content_or_unknown(bytes)));
  }
  PngState state;
  state.data = bytes.data();
  state.size = bytes.size();
  std::vector<uint8_t> pixels;
  uint32_t width = 0, height = 0;
  int channels = 0;
  if (!png_decode_into(&state, &pixels, &width, &height, &channels)) {
    throw Error(fmt::format("{}: PNG: {}", name, state.message));
  }
  return pixels_to_tensor(pixels, width, height, channels);
}

torch::Tensor decode_jpeg(const std::vector<uint8_t>& bytes, const std::string& name) {
  if (!is_jpeg(bytes)) {
    throw Error(fmt::format("{}: JPEG: not a JPEG image (no JPEG start marker; the content is {})",
                            name, content_or_unknown(bytes)));
  }
  JpegErrors errors;
  std::vector<uint8_t> pixels;
  uint32_t width = 0, height = 0;
  int channels = 0;
  if (!jpeg_decode_into(&errors, bytes.data(), bytes.size(), &pixels, &width, &height, &channels)) {
    throw Error(fmt::format("{}: JPEG: {}", name, errors.message));
  }
  return pixels_to_tensor(pixels, width, height, channels);
}

torch::Tensor decode_image(const std::vector<uint8_t>& bytes, const std::string& name) {
  if (is_png(bytes)) return decode_png(bytes, name);
  if (is_jpeg(bytes)) return decode_jpeg(bytes, name);
  throw Error(fmt::format("{}: not a PNG or JPEG image (the content is {})", name,
                          content_or_unknown(bytes)));
}

std::vector<uint8_t> encode_png(const torch::Tensor& image) {
  const torch::Tensor hwc = encodable(image, "png");
  std::vector<uint8_t> out;
  PngState state;
  state.output = &out;
  if (!png_encode_into(&state, hwc.data_ptr<uint8_t>(), static_cast<uint32_t>(hwc.size(1)),
                       static_cast<uint32_t>(hwc.size(0)), static_cast<int>(hwc.size(2)))) {
    throw Error(fmt::format("encode_png: libpng failed: {}", state.message));
  }
  return out;
}

std::vector<uint8_t> encode_jpeg(const torch::Tensor& image, int quality) {
  if (quality < 1 || quality > 100) {
    throw Error(fmt::format("encode_jpeg: quality must be 1..100, got {}", quality));
  }
  const torch::Tensor hwc = encodable(image, "jpeg");
  JpegErrors errors;
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  const bool ok = jpeg_encode_into(
      &errors, hwc.data_ptr<uint8_t>(), static_cast<uint32_t>(hwc.size(1)),
      static_cast<uint32_t>(hwc.size(0)), static_cast<int>(hwc.size(2)), quality, &buffer, &size);
  std::vector<uint8_t> out;
  if (ok) out.assign(buffer, buffer + size);
  std::free(buffer);
  if (!ok) throw Error(fmt::format("encode_jpeg: libjpeg failed: {}", errors.message));
  return out;
}

// ---- image folders ----

ImageFolder read_image_folder(const std::string& root, const ImageFolderOptions& options) {
  if (options.channels != 0 && options.channels != 1 && options.channels != 3) {
    throw Error(fmt::format("{}: image folder: channels must be 0, 1 or 3, got {}", root,
                            options.channels));
  }
  if (options.height < 0 || options.width < 0) {
    throw Error(root + ": image folder: the required height and width must be >= 0");
  }
  std::error_code error;
  if (!fs::exists(root, error)) throw Error(root + ": image folder: no such folder");
  if (!fs::is_directory(root, error)) {
    throw Error(root + ": image folder: not a folder (expected root/<class>/<images>)");
  }
  ImageFolder folder;
  folder.root_ = root;
  folder.options_ = options;
  std::vector<fs::path> class_dirs;
  for (const auto& entry : fs::directory_iterator(root, error)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (entry.is_directory(error)) {
      class_dirs.push_back(entry.path());
    } else {
      throw Error(
          fmt::format("{}: image folder: unexpected file at the top level (expected one "
                      "sub-folder per class)",
                      entry.path().string()));
    }
  }
  if (error) throw Error(root + ": image folder: cannot list: " + error.message());
  if (class_dirs.empty()) {
    throw Error(root +
                ": image folder: empty (no class sub-folders; expected root/<class>/<images>)");
  }
  std::sort(class_dirs.begin(), class_dirs.end());
  for (const fs::path& dir : class_dirs) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, error)) {
      const std::string name = entry.path().filename().string();
      if (name.empty() || name[0] == '.') continue;
      const std::string extension = lower_extension(entry.path());
      if (entry.is_directory(error) ||
          (extension != ".png" && extension != ".jpg" && extension != ".jpeg")) {
        throw Error(fmt::format("{}: image folder: not an image file (accepted: .png, .jpg, .jpeg)",
                                entry.path().string()));
      }
      const std::string problem = regular_file_problem(entry.path().string());
      if (!problem.empty()) throw Error(entry.path().string() + ": image folder: " + problem);
      files.push_back(entry.path());
    }
    if (error) throw Error(dir.string() + ": image folder: cannot list: " + error.message());
    if (files.empty()) throw Error(dir.string() + ": image folder: class folder has no images");
    std::sort(files.begin(), files.end());
    const int64_t label = static_cast<int64_t>(folder.classes_.size());
    folder.classes_.push_back(dir.filename().string());
    for (const fs::path& file : files) {
      folder.files_.push_back(file.string());
      folder.labels_.push_back(label);
    }
  }
  return folder;
}

torch::Tensor ImageFolder::load(int64_t index) const {
  if (index < 0 || index >= size()) {
    throw Error(
        fmt::format("{}: image folder: index {} out of range ({} images)", root_, index, size()));
  }
  const std::string& path = files_[static_cast<size_t>(index)];
  const std::vector<uint8_t> bytes = read_file_bytes(path, int64_t{1} << 30);
  const bool png_name = lower_extension(path) == ".png";
  if (png_name ? !is_png(bytes) : !is_jpeg(bytes)) {
    throw Error(fmt::format("{}: the content is {}, not the {} image its extension says", path,
                            content_or_unknown(bytes), png_name ? "PNG" : "JPEG"));
  }
  torch::Tensor image = png_name ? decode_png(bytes, path) : decode_jpeg(bytes, path);
  if ((options_.height > 0 && image.size(0) != options_.height) ||
      (options_.width > 0 && image.size(1) != options_.width)) {
    throw Error(fmt::format("{}: image is {}x{} (height x width), the folder requires {}x{}", path,
                            image.size(0), image.size(1),
                            options_.height > 0 ? options_.height : image.size(0),
                            options_.width > 0 ? options_.width : image.size(1)));
  }
  if (options_.channels == 3 && image.size(2) == 1) {
    image = image.expand({image.size(0), image.size(1), 3}).contiguous();
  } else if (options_.channels == 1 && image.size(2) == 3) {
    // ITU-R BT.601 luma, as libjpeg and PIL's "L" conversion compute it.
    const torch::Tensor weights = torch::tensor({0.299f, 0.587f, 0.114f});
    image =
        (image.to(torch::kFloat32) * weights).sum(2, true).round().clamp(0, 255).to(torch::kUInt8);
  }
  return image;
}

}  // namespace dlbench::data
