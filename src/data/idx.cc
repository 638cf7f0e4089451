// IDX reader and writer (raw or gzip). The gzip stream is inflated with zlib's inflate() so that
// every failure has its own message: a corrupt stream (zlib's reason), a stream cut short, data
// after the stream. The header's declared size is checked against the file (raw) or against the
// most a gzip file of that size can hold (deflate expands at most ~1032:1) before allocating.
#include "data/idx.h"

#include <fmt/core.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "core/error.h"
#include "core/strings.h"
#include "data/bytes.h"
#include "data/image.h"

namespace dlbench::data {
namespace {

constexpr int64_t kMaxDeflateRatio = 1100;  // deflate's real bound is ~1032:1
/// The most decompressed data a gzip IDX file may declare: 4 GiB, 90 times MNIST's training
/// images (47 MB). A raw file is bounded by its own size instead.
constexpr int64_t kMaxGzipDataBytes = int64_t{4} << 30;
/// Memory for gzip data grows in steps of at most this much as the data decompress.
constexpr int64_t kGzipGrowthBytes = int64_t{64} << 20;

struct IdxType {
  uint8_t code;
  torch::ScalarType dtype;
  int size;
  const char* name;
};

constexpr IdxType kIdxTypes[] = {
    {0x08, torch::kUInt8, 1, "uint8"},     {0x09, torch::kInt8, 1, "int8"},
    {0x0B, torch::kInt16, 2, "int16"},     {0x0C, torch::kInt32, 4, "int32"},
    {0x0D, torch::kFloat32, 4, "float32"}, {0x0E, torch::kFloat64, 8, "float64"},
};

const IdxType* idx_type_by_code(uint8_t code) {
  for (const IdxType& type : kIdxTypes) {
    if (type.code == code) return &type;
  }
  return nullptr;
}

const IdxType* idx_type_by_dtype(torch::ScalarType dtype) {
  for (const IdxType& type : kIdxTypes) {
    if (type.dtype == dtype) return &type;
  }
  return nullptr;
}

// A file read as it is, or inflated when it starts with the gzip magic bytes.
class ByteSource {
 public:
  explicit ByteSource(const std::string& path) : path_(path) {
    const int fd = open_data_file(path);  // regular files only: a FIFO would block
    file_ = ::fdopen(fd, "rb");
    if (file_ == nullptr) {
      const int error = errno;
      ::close(fd);
      throw Error(fmt::format("{}: cannot open: {}", path, std::strerror(error)));
    }
    const size_t got = std::fread(buffer_, 1, 2, file_);
    gzip_ = got == 2 && buffer_[0] == 0x1F && buffer_[1] == 0x8B;
    if (gzip_) {
      std::memset(&stream_, 0, sizeof stream_);
      if (inflateInit2(&stream_, 15 + 16) != Z_OK) {  // 16: gzip wrapper only
        std::fclose(file_);
        throw Error(path + ": cannot initialise zlib");
      }
      stream_.next_in = buffer_;
      stream_.avail_in = static_cast<uInt>(got);
    } else {
      pending_ = got;  // bytes already read, handed out first
    }
  }
  ~ByteSource() {
    if (gzip_) inflateEnd(&stream_);
    std::fclose(file_);
  }
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  bool gzip() const { return gzip_; }

  // Inflates the rest of a gzip stream and drops it, so that a corrupt or truncated stream is
  // reported as such rather than as the nonsense it inflated to. Nothing for raw files.
  void check_stream() {
    if (!gzip_) return;
    uint8_t scratch[1 << 14];
    while (read(scratch, sizeof scratch) > 0) {
    }
  }

  // Reads up to n bytes; fewer only at the end of the (decompressed) data.
  size_t read(uint8_t* out, size_t n) { return gzip_ ? inflate_into(out, n) : read_raw(out, n); }

 private:
  size_t read_raw(uint8_t* out, size_t n) {
    size_t done = 0;
    while (pending_ > 0 && done < n) {
      out[done++] = buffer_[pending_offset_++];
      --pending_;
    }
    done += std::fread(out + done, 1, n - done, file_);
    if (std::ferror(file_)) throw Error(path_ + ": read error: " + std::strerror(errno));
    return done;
  }

  // Moves unread input to the buffer's start and tops it up from the file; returns avail_in.
  size_t refill() {
    std::memmove(buffer_, stream_.next_in, stream_.avail_in);
    const size_t got =
        std::fread(buffer_ + stream_.avail_in, 1, sizeof buffer_ - stream_.avail_in, file_);
    if (std::ferror(file_)) throw Error(path_ + ": read error: " + std::strerror(errno));
    stream_.next_in = buffer_;
    stream_.avail_in += static_cast<uInt>(got);
    return stream_.avail_in;
  }

  size_t inflate_into(uint8_t* out, size_t n) {
    size_t done = 0;
    while (done < n) {
      if (member_ended_) {
        // Another gzip member may follow (concatenated .gz files are valid gzip).
        if (stream_.avail_in < 2) refill();
        if (stream_.avail_in == 0) return done;  // the real end
        if (stream_.avail_in < 2 || stream_.next_in[0] != 0x1F || stream_.next_in[1] != 0x8B) {
          throw Error(path_ +
                      ": corrupt gzip file: unexpected bytes after the end of the gzip "
                      "stream");
        }
        inflateReset(&stream_);
        member_ended_ = false;
      }
      if (stream_.avail_in == 0 && refill() == 0) {
        throw Error(
            fmt::format("{}: truncated gzip file: the compressed stream ends early (after "
                        "{} decompressed bytes)",
                        path_, static_cast<unsigned long long>(total_out_ + done)));
      }
      const size_t chunk = std::min<size_t>(n - done, size_t{1} << 30);
      stream_.next_out = out + done;
      stream_.avail_out = static_cast<uInt>(chunk);
      const int status = inflate(&stream_, Z_NO_FLUSH);
      done += chunk - stream_.avail_out;
      if (status == Z_STREAM_END) {
        member_ended_ = true;
      } else if (status == Z_DATA_ERROR) {
        throw Error(fmt::format("{}: corrupt gzip data: {} (after {} decompressed bytes)", path_,
                                stream_.msg ? stream_.msg : "invalid data",
                                static_cast<unsigned long long>(total_out_ + done)));
      } else if (status == Z_MEM_ERROR) {
        throw Error(path_ + ": zlib ran out of memory");
      } else if (status != Z_OK && status != Z_BUF_ERROR) {
        throw Error(fmt::format("{}: gzip error {}: {}", path_, status,
                                stream_.msg ? stream_.msg : "unknown"));
      }
    }
    total_out_ += done;
    return done;
  }

  std::string path_;
  std::FILE* file_ = nullptr;
  bool gzip_ = false;
  z_stream stream_;
  bool member_ended_ = false;
  uint64_t total_out_ = 0;
  uint8_t buffer_[1 << 16];
  size_t pending_ = 0, pending_offset_ = 0;
};

std::string shape_text(const std::vector<int64_t>& shape) {
  std::vector<std::string> parts;
  for (int64_t size : shape) parts.push_back(std::to_string(size));
  return join(parts, " x ");
}

void write_all(std::FILE* file, gzFile gz, const std::string& path, const uint8_t* data,
               size_t size) {
  while (size > 0) {
    const size_t chunk = std::min<size_t>(size, size_t{1} << 30);
    const bool ok = gz != nullptr
                        ? gzwrite(gz, data, static_cast<unsigned>(chunk)) == static_cast<int>(chunk)
                        : std::fwrite(data, 1, chunk, file) == chunk;
    if (!ok) throw Error(fmt::format("{}: write error: {}", path, std::strerror(errno)));
    data += chunk;
    size -= chunk;
  }
}

}  // namespace

torch::Tensor read_idx(const std::string& path) {
  const int64_t size = file_size(path);
  if (size == 0) throw Error(path + ": empty file (an IDX file starts with a 4-byte header)");
  ByteSource source(path);
  const char* what = source.gzip() ? "decompressed data" : "file";
  // A header error in a gzip file may come from a broken stream: report that first.
  auto header_error = [&](const std::string& message) {
    source.check_stream();
    return Error(message);
  };

  uint8_t magic[4] = {0, 0, 0, 0};
  const size_t got_magic = source.read(magic, 4);
  if (got_magic < 4) {
    throw Error(
        fmt::format("{}: truncated: the {} has {} bytes, less than the 4-byte IDX magic "
                    "number",
                    path, what, got_magic));
  }
  if (magic[0] != 0 || magic[1] != 0) {
    uint8_t head[12];  // enough to recognise a PNG signature or text
    std::memcpy(head, magic, 4);
    const size_t more = source.read(head + 4, 8);
    const std::string kind = describe_content(head, 4 + more);
    throw header_error(fmt::format(
        "{}: not an IDX file: the magic number must start with two zero bytes, "
        "found 0x{:02X} 0x{:02X}{}",
        path, magic[0], magic[1], kind.empty() ? "" : (" (the content looks like " + kind + ")")));
  }
  const IdxType* type = idx_type_by_code(magic[2]);
  if (type == nullptr) {
    throw header_error(
        fmt::format("{}: unknown IDX type code 0x{:02X} (known: 0x08 uint8, 0x09 int8, 0x0B "
                    "int16, 0x0C int32, 0x0D float32, 0x0E float64)",
                    path, magic[2]));
  }
  const int dims = magic[3];
  if (dims < 1 || dims > 8) {
    throw header_error(fmt::format("{}: IDX dimension count {} out of range 1..8", path, dims));
  }
  uint8_t size_bytes[32];
  const size_t header_sizes = static_cast<size_t>(dims) * 4;
  const size_t got_sizes = source.read(size_bytes, header_sizes);
  if (got_sizes < header_sizes) {
    throw header_error(
        fmt::format("{}: truncated: the header declares {} dimensions but the {} ends after "
                    "{} of their {} size bytes",
                    path, dims, what, got_sizes, header_sizes));
  }
  std::vector<int64_t> shape;
  int64_t count = 1;
  bool overflow = false;
  for (int d = 0; d < dims; ++d) {
    const uint8_t* b = size_bytes + 4 * d;
    const uint32_t dim =
        (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
    if (dim > 0x7FFFFFFFu) {
      throw header_error(fmt::format(
          "{}: corrupt header: dimension {} has size {} (above 2^31 - 1)", path, d, dim));
    }
    shape.push_back(dim);
    overflow = overflow || __builtin_mul_overflow(count, int64_t{dim}, &count);
  }
  int64_t data_bytes = 0;
  overflow = overflow || __builtin_mul_overflow(count, int64_t{type->size}, &data_bytes);
  const std::string declared =
      fmt::format("header says {} {} values ({} bytes)", shape_text(shape), type->name, data_bytes);
  const int64_t header_bytes = 4 + 4 * dims;
  if (overflow) {
    throw header_error(
        fmt::format("{}: corrupt header: the sizes {} overflow 64 bits", path, shape_text(shape)));
  }
  if (!source.gzip() && header_bytes + data_bytes != size) {
    const int64_t actual = size - header_bytes;
    throw Error(fmt::format("{}: {}: {}, the file has {} bytes of data", path,
                            actual < data_bytes ? "truncated" : "trailing bytes after the data",
                            declared, actual));
  }
  if (source.gzip() && data_bytes / kMaxDeflateRatio > size + (int64_t{1} << 20)) {
    throw header_error(
        fmt::format("{}: corrupt header or truncated file: {}, more than a {}-byte gzip "
                    "file can hold",
                    path, declared, size));
  }
  if (source.gzip() && data_bytes > kMaxGzipDataBytes) {
    throw header_error(
        fmt::format("{}: corrupt header or file too large: {}, more than the {} of "
                    "decompressed data a gzip IDX file may hold",
                    path, declared, format_bytes(static_cast<double>(kMaxGzipDataBytes))));
  }
  torch::Tensor tensor;
  size_t got = 0;
  if (!source.gzip() || data_bytes == 0) {
    // The file's size matches the header: allocate it whole.
    tensor = torch::empty(shape, torch::TensorOptions().dtype(type->dtype));
    got = source.read(static_cast<uint8_t*>(tensor.data_ptr()), static_cast<size_t>(data_bytes));
  } else {
    // Nothing vouches for a gzip header but the data: memory grows as they decompress, so a
    // header that lies fails as truncated without the memory it claimed.
    auto buffer = std::make_unique<std::vector<uint8_t>>();
    while (static_cast<int64_t>(got) < data_bytes) {
      const int64_t step =
          std::min({data_bytes - static_cast<int64_t>(got),
                    std::max<int64_t>(static_cast<int64_t>(got), 1 << 20), kGzipGrowthBytes});
      buffer->resize(got + static_cast<size_t>(step));
      const size_t read = source.read(buffer->data() + got, static_cast<size_t>(step));
      got += read;
      if (static_cast<int64_t>(read) < step) break;
    }
    if (static_cast<int64_t>(got) == data_bytes) {
      std::vector<uint8_t>* owned = buffer.release();
      tensor = torch::from_blob(
          owned->data(), shape, [owned](void*) { delete owned; },
          torch::TensorOptions().dtype(type->dtype));
    }
  }
  if (static_cast<int64_t>(got) < data_bytes) {
    throw Error(fmt::format("{}: truncated: {}, the {} has {}", path, declared, what, got));
  }
  auto* data = static_cast<uint8_t*>(tensor.data_ptr());
  if (source.gzip()) {
    // Drain the stream: this checks the gzip CRC and length, and finds extra data.
    uint8_t extra[4096];
    uint64_t extra_bytes = 0;
    for (size_t n; (n = source.read(extra, sizeof extra)) > 0;) extra_bytes += n;
    if (extra_bytes > 0) {
      throw Error(
          fmt::format("{}: trailing bytes after the data: {}, the decompressed data has "
                      "{} more",
                      path, declared, static_cast<unsigned long long>(extra_bytes)));
    }
  }
  swap_big_endian(data, count, type->size);
  return tensor;
}

void write_idx(const std::string& path, const torch::Tensor& tensor, bool gzip) {
  const IdxType* type = idx_type_by_dtype(tensor.scalar_type());
  if (type == nullptr) {
    throw Error(
        fmt::format("{}: IDX cannot store dtype {} (uint8, int8, int16, int32, float32, "
                    "float64 only)",
                    path, std::string(c10::toString(tensor.scalar_type()))));
  }
  if (tensor.dim() < 1 || tensor.dim() > 8) {
    throw Error(fmt::format("{}: IDX stores 1..8 dimensions, the tensor has {}", path,
                            static_cast<int>(tensor.dim())));
  }
  std::vector<uint8_t> header = {0, 0, type->code, static_cast<uint8_t>(tensor.dim())};
  for (int64_t size : tensor.sizes()) {
    if (size > 0x7FFFFFFF) {
      throw Error(fmt::format("{}: IDX sizes must be below 2^31, got {}", path, size));
    }
    for (int shift = 24; shift >= 0; shift -= 8) header.push_back((size >> shift) & 0xFF);
  }
  torch::Tensor big_endian = tensor.cpu().contiguous().clone();
  auto* data = static_cast<uint8_t*>(big_endian.data_ptr());
  swap_big_endian(data, big_endian.numel(), type->size);
  const size_t data_bytes = static_cast<size_t>(big_endian.numel()) * type->size;

  std::FILE* file = nullptr;
  gzFile gz = nullptr;
  if (gzip) {
    gz = gzopen(path.c_str(), "wb");
  } else {
    file = std::fopen(path.c_str(), "wb");
  }
  if (file == nullptr && gz == nullptr) {
    throw Error(fmt::format("{}: cannot create: {}", path, std::strerror(errno)));
  }
  try {
    write_all(file, gz, path, header.data(), header.size());
    write_all(file, gz, path, data, data_bytes);
  } catch (...) {
    if (gz != nullptr) gzclose(gz);
    if (file != nullptr) std::fclose(file);
    throw;
  }
  const bool closed = gz != nullptr ? gzclose(gz) == Z_OK : std::fclose(file) == 0;
  if (!closed) throw Error(fmt::format("{}: write error on close: {}", path, std::strerror(errno)));
}

IdxPair read_idx_pair(const std::string& images_path, const std::string& labels_path) {
  IdxPair pair{read_idx(images_path), read_idx(labels_path)};
  if (pair.labels.dim() != 1) {
    throw Error(fmt::format("{}: labels must be one-dimensional, the file has {} dimensions",
                            labels_path, static_cast<int>(pair.labels.dim())));
  }
  if (pair.labels.is_floating_point()) {
    throw Error(labels_path + ": labels must have an integer type, the file holds floats");
  }
  if (pair.images.size(0) != pair.labels.size(0)) {
    throw Error(fmt::format("{}: {} images but {} has {} labels", images_path, pair.images.size(0),
                            labels_path, pair.labels.size(0)));
  }
  return pair;
}

}  // namespace dlbench::data
