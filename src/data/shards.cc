// Sharded on-disk datasets: the writer, the reader (ShardSource) and the calibrated decode cost.
//
// Files in a dataset directory (all integers little-endian):
//   shard-NNNNN.dls  "DLBSHRD1", then records: u32 payload length, u32 CRC32 of the payload,
//                    payload = u64 sample, u32 tensor count, then per tensor: u8 dtype code,
//                    u8 rank, u16 0, u32 0, i64 dims[rank], u64 byte count, the bytes.
//   index.bin        "DLBSIDX1", u64 samples, then per sample: u32 shard, u32 record ordinal,
//                    u64 offset, u64 record length (header included).
//   manifest.txt     text: format line, samples, shards, the index's size and CRC, one line per
//                    shard (name, records, bytes), the source's description, then a line
//                    "crc32 XXXXXXXX" over every byte before it. Written last.
#include "data/shards.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/safe_file.h"
#include "core/strings.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the shard format is written in the host's byte order, assumed little-endian");

namespace dlbench::data {
namespace {

namespace fs = std::filesystem;

constexpr char kShardMagic[8] = {'D', 'L', 'B', 'S', 'H', 'R', 'D', '1'};
constexpr char kIndexMagic[8] = {'D', 'L', 'B', 'S', 'I', 'D', 'X', '1'};
constexpr const char* kManifestName = "manifest.txt";
constexpr const char* kIndexName = "index.bin";
constexpr const char* kFormatLine = "dlbench-shards 1";
constexpr size_t kRecordHeader = 8;    // u32 length + u32 crc
constexpr size_t kPayloadHeader = 12;  // u64 sample + u32 tensor count
constexpr size_t kTensorHeader = 8;    // u8 dtype, u8 rank, u16 0, u32 0
constexpr size_t kIndexHeader = 16;    // magic + u64 samples
constexpr size_t kIndexEntry = 24;
constexpr int kMaxRank = 16;
constexpr int64_t kMaxManifestBytes = 64 << 20;

/// The dtypes a record can hold, with codes that stay fixed whatever LibTorch numbers them.
struct DtypeCode {
  uint8_t code;
  torch::ScalarType type;
};
constexpr DtypeCode kDtypes[] = {
    {1, torch::kUInt8},   {2, torch::kInt8},    {3, torch::kInt16},    {4, torch::kInt32},
    {5, torch::kInt64},   {6, torch::kFloat16}, {7, torch::kBFloat16}, {8, torch::kFloat32},
    {9, torch::kFloat64}, {10, torch::kBool},
};

uint8_t code_of(torch::ScalarType type) {
  for (const DtypeCode& d : kDtypes) {
    if (d.type == type) return d.code;
  }
  throw Error(std::string("shards: dtype ") + c10::toString(type) +
              " cannot be stored (uint8, int8..int64, fp16, bf16, fp32, fp64 and bool can)");
}

bool type_of(uint8_t code, torch::ScalarType& type) {
  for (const DtypeCode& d : kDtypes) {
    if (d.code == code) {
      type = d.type;
      return true;
    }
  }
  return false;
}

uint32_t crc_of(const void* data, size_t size) {
  return static_cast<uint32_t>(crc32_z(crc32_z(0L, Z_NULL, 0), static_cast<const Bytef*>(data),
                                       static_cast<z_size_t>(size)));
}

std::string hex32(uint32_t value) { return fmt::format("{:08x}", value); }

std::string shard_name(int s) { return fmt::format("shard-{:05}.dls", s); }

template <class T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

template <class T>
T get(const unsigned char* at) {
  T value;
  std::memcpy(&value, at, sizeof(T));
  return value;
}

/// A file of the dataset, written into place atomically (core/safe_file.h): a unique temporary
/// file in the directory (nothing planted there is followed), renamed over the name by
/// close(); every failure is an Error naming the file and the reason.
class OutFile {
 public:
  OutFile(const std::string& path, bool sync)
      : file_(path, WriteOptions{0644, sync, "dataset file"}) {}
  void write(const void* data, size_t size) { file_.write(data, size); }
  void close() { file_.commit(); }

 private:
  AtomicFile file_;
};

/// Reads exactly `size` bytes at `offset`; returns the bytes actually read (short at the end).
size_t pread_all(int fd, void* buffer, size_t size, int64_t offset) {
  size_t done = 0;
  while (done < size) {
    ssize_t got = ::pread(fd, static_cast<char*>(buffer) + done, size - done,
                          static_cast<off_t>(offset + static_cast<int64_t>(done)));
    if (got < 0) {
      if (errno == EINTR) continue;
      return done;
    }
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  return done;
}

int64_t file_size(const std::string& path, bool& exists) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) {
    exists = false;
    return 0;
  }
  exists = true;
  return static_cast<int64_t>(info.st_size);
}

std::string shape_text(const std::vector<int64_t>& dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    text += (i ? ", " : "") + std::to_string(dims[i]);
  }
  return text + "]";
}

/// One tensor of a parsed record: where its bytes are in the record buffer.
struct TensorView {
  torch::ScalarType type = torch::kUInt8;
  std::vector<int64_t> dims;
  const unsigned char* data = nullptr;
  size_t bytes = 0;
};

std::atomic<uint64_t> g_decode_sink{0};

}  // namespace

uint64_t decode_work(const unsigned char* bytes, size_t size, uint64_t iterations) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  if (size == 0) return hash;
  size_t at = 0;
  for (uint64_t i = 0; i < iterations; ++i) {
    hash = (hash ^ bytes[at]) * 0x100000001b3ULL;
    if (++at == size) at = 0;
  }
  return hash;
}

double decode_iterations_per_us() {
  static double rate = 0;
  static std::once_flag once;
  std::call_once(once, [] {
    std::vector<unsigned char> bytes(4096);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(i * 131 + 7);
    constexpr uint64_t kIterations = 1 << 20;
    double best = 1e30;
    for (int run = 0; run < 7; ++run) {
      auto start = std::chrono::steady_clock::now();
      g_decode_sink.fetch_xor(decode_work(bytes.data(), bytes.size(), kIterations),
                              std::memory_order_relaxed);
      double us =
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
              .count();
      best = std::min(best, us);
    }
    rate = static_cast<double>(kIterations) / std::max(best, 1e-3);
  });
  return rate;
}

ShardSummary write_shards(const BatchSource& source, const std::string& dir, int shard_count,
                          const ShardWriteOptions& options) {
  const int64_t samples = source.size();
  if (shard_count < 1)
    throw Error(fmt::format("shards: shard_count={}: must be at least 1", shard_count));
  if (samples < 1) throw Error("shards: the source '" + source.describe() + "' has no samples");
  if (shard_count > samples) {
    throw Error(fmt::format("shards: shard_count={} exceeds the {} samples", shard_count, samples));
  }
  const int64_t chunk = std::max<int64_t>(1, options.chunk);
  std::error_code code;
  fs::create_directories(dir, code);
  if (code) throw Error(dir + ": cannot create the directory: " + code.message());
  // The manifest is the commit point: remove an older one first, so a crash mid-write leaves a
  // directory that does not open.
  fs::remove(fs::path(dir) / kManifestName, code);

  std::string index;
  index.append(kIndexMagic, sizeof(kIndexMagic));
  put<uint64_t>(index, static_cast<uint64_t>(samples));

  ShardSummary summary;
  summary.samples = samples;
  summary.shards = shard_count;
  std::vector<std::string> shard_lines;
  std::string record;
  for (int s = 0; s < shard_count; ++s) {
    const int64_t first = samples * s / shard_count;
    const int64_t last = samples * (s + 1) / shard_count;
    const std::string path = (fs::path(dir) / shard_name(s)).string();
    OutFile out(path, options.sync);
    out.write(kShardMagic, sizeof(kShardMagic));
    uint64_t offset = sizeof(kShardMagic);
    for (int64_t begin = first; begin < last; begin += chunk) {
      const int64_t end = std::min(last, begin + chunk);
      std::vector<int64_t> indices;
      for (int64_t i = begin; i < end; ++i) indices.push_back(i);
      Batch batch = source.load(indices, batch_seed(options.seed, 0, begin / chunk));
      for (const torch::Tensor& tensor : batch.tensors) {
        if (tensor.dim() < 1 || tensor.size(0) != static_cast<int64_t>(indices.size())) {
          throw Error("shards: the source '" + source.describe() +
                      "' returned a tensor whose first dimension is not the batch");
        }
      }
      for (size_t j = 0; j < indices.size(); ++j) {
        record.assign(kRecordHeader, '\0');
        put<uint64_t>(record, static_cast<uint64_t>(indices[j]));
        put<uint32_t>(record, static_cast<uint32_t>(batch.tensors.size()));
        for (const torch::Tensor& tensor : batch.tensors) {
          torch::Tensor row = tensor[static_cast<int64_t>(j)].to(torch::kCPU).contiguous();
          if (row.dim() > kMaxRank) throw Error("shards: a sample tensor has rank above 16");
          put<uint8_t>(record, code_of(row.scalar_type()));
          put<uint8_t>(record, static_cast<uint8_t>(row.dim()));
          put<uint16_t>(record, 0);
          put<uint32_t>(record, 0);
          for (int64_t d : row.sizes()) put<int64_t>(record, d);
          const size_t bytes = static_cast<size_t>(row.nbytes());
          put<uint64_t>(record, bytes);
          record.append(static_cast<const char*>(row.data_ptr()), bytes);
        }
        const size_t payload = record.size() - kRecordHeader;
        if (payload > UINT32_MAX) {
          throw Error(fmt::format("shards: sample {} is {} bytes; records are limited to 4 GiB",
                                  indices[j], payload));
        }
        uint32_t length = static_cast<uint32_t>(payload);
        uint32_t crc = crc_of(record.data() + kRecordHeader, payload);
        std::memcpy(&record[0], &length, 4);
        std::memcpy(&record[4], &crc, 4);
        out.write(record.data(), record.size());
        put<uint32_t>(index, static_cast<uint32_t>(s));
        put<uint32_t>(index, static_cast<uint32_t>(indices[j] - first));
        put<uint64_t>(index, offset);
        put<uint64_t>(index, record.size());
        offset += record.size();
      }
    }
    out.close();
    summary.shard_bytes += static_cast<int64_t>(offset);
    shard_lines.push_back(fmt::format("shard {} {} {}", shard_name(s), last - first,
                                      static_cast<unsigned long long>(offset)));
  }

  {
    OutFile out((fs::path(dir) / kIndexName).string(), options.sync);
    out.write(index.data(), index.size());
    out.close();
  }

  std::string description = source.describe();
  std::replace(description.begin(), description.end(), '\n', ' ');
  std::string manifest = std::string(kFormatLine) + "\n";
  manifest += fmt::format("samples {}\n", samples);
  manifest += fmt::format("shards {}\n", shard_count);
  manifest += fmt::format("index {} {} {}\n", kIndexName, index.size(),
                          hex32(crc_of(index.data(), index.size())));
  for (const std::string& line : shard_lines) manifest += line + "\n";
  manifest += "source " + description + "\n";
  manifest += "crc32 " + hex32(crc_of(manifest.data(), manifest.size())) + "\n";
  OutFile out((fs::path(dir) / kManifestName).string(), options.sync);
  out.write(manifest.data(), manifest.size());
  out.close();
  return summary;
}

ShardSource::ShardSource(const std::string& dir, DecodeCost cost) : dir_(dir), cost_(cost) {
  if (cost_.decode_us < 0 || cost_.read_latency_us < 0) {
    throw Error("shards: decode_us and read_latency_us must be 0 or more");
  }
  try {
    open_manifest();
    open_shards();
  } catch (...) {
    for (Shard& shard : shards_) {
      if (shard.fd >= 0) ::close(shard.fd);
    }
    throw;
  }
  if (cost_.decode_us > 0) {
    decode_iterations_ = static_cast<uint64_t>(cost_.decode_us * decode_iterations_per_us());
  }
}

ShardSource::~ShardSource() {
  for (Shard& shard : shards_) {
    if (shard.fd >= 0) ::close(shard.fd);
  }
}

void ShardSource::open_manifest() {
  const std::string path = (fs::path(dir_) / kManifestName).string();
  bool exists = false;
  int64_t size = file_size(path, exists);
  if (!exists) {
    throw Error(path +
                ": missing: not a dataset written by write_shards (or writing it did not "
                "finish)");
  }
  if (size > kMaxManifestBytes) {
    throw Error(fmt::format("{}: {} bytes: too large for a manifest", path, size));
  }
  std::string text(static_cast<size_t>(size), '\0');
  {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
    size_t got = pread_all(fd, text.data(), text.size(), 0);
    ::close(fd);
    if (got != text.size()) throw Error(path + ": read failed: " + std::strerror(errno));
  }
  // The CRC line is the last line; everything before it is covered.
  size_t crc_at = text.rfind("crc32 ");
  if (crc_at == std::string::npos || (crc_at > 0 && text[crc_at - 1] != '\n')) {
    throw Error(path + ": truncated or corrupt: no final 'crc32' line");
  }
  std::string stored = trim(text.substr(crc_at + 6));
  uint32_t computed = crc_of(text.data(), crc_at);
  if (stored != hex32(computed)) {
    throw Error(path + ": CRC mismatch: stored '" + stored + "', contents give " + hex32(computed));
  }
  std::istringstream lines(text.substr(0, crc_at));
  std::string line;
  int number = 0;
  auto bad = [&](const std::string& what) {
    return Error(fmt::format("{}: line {}: {}", path, number, what));
  };
  auto expect_int = [&](const std::string& token) {
    std::optional<int64_t> value = parse_int(token);
    if (!value || *value < 0) throw bad("'" + token + "' is not a count");
    return *value;
  };
  int64_t shard_count = -1;
  std::string index_name;
  int64_t index_bytes = -1;
  uint32_t index_crc = 0;
  while (std::getline(lines, line)) {
    ++number;
    std::vector<std::string> words = split_whitespace(line);
    if (number == 1) {
      if (trim(line) != kFormatLine) {
        throw bad("expected '" + std::string(kFormatLine) + "', found '" + trim(line) + "'");
      }
      continue;
    }
    if (words.empty()) continue;
    const std::string& key = words[0];
    if (key == "source") {
      origin_ = trim(line.substr(6));
    } else if (key == "samples" && words.size() == 2) {
      samples_ = expect_int(words[1]);
    } else if (key == "shards" && words.size() == 2) {
      shard_count = expect_int(words[1]);
    } else if (key == "index" && words.size() == 4) {
      index_name = words[1];
      index_bytes = expect_int(words[2]);
      char* end = nullptr;
      unsigned long value = std::strtoul(words[3].c_str(), &end, 16);
      if (words[3].size() != 8 || *end != '\0') throw bad("'" + words[3] + "' is not a CRC32");
      index_crc = static_cast<uint32_t>(value);
    } else if (key == "shard" && words.size() == 4) {
      const std::string& name = words[1];
      if (name.find('/') != std::string::npos || name == "." || name == "..") {
        throw bad("shard name '" + name + "' is not a plain file name");
      }
      Shard shard;
      shard.path = (fs::path(dir_) / name).string();
      shard.records = expect_int(words[2]);
      shard.bytes = expect_int(words[3]);
      shards_.push_back(shard);
    } else {
      throw bad("unexpected line '" + trim(line) + "'");
    }
  }
  if (number == 0) throw Error(path + ": empty");
  if (shard_count < 1 || static_cast<int64_t>(shards_.size()) != shard_count) {
    throw Error(fmt::format("{}: says {} shards but lists {}", path, shard_count, shards_.size()));
  }
  if (index_name.empty() || index_name.find('/') != std::string::npos) {
    throw Error(path + ": no valid 'index' line");
  }
  int64_t records = 0;
  for (const Shard& shard : shards_) records += shard.records;
  if (records != samples_) {
    throw Error(fmt::format("{}: the shards hold {} records but the dataset has {} samples", path,
                            records, samples_));
  }
  open_index(index_name, index_bytes, index_crc);
}

void ShardSource::open_index(const std::string& name, int64_t bytes, uint32_t crc) {
  const std::string path = (fs::path(dir_) / name).string();
  const int64_t expected =
      static_cast<int64_t>(kIndexHeader) + samples_ * static_cast<int64_t>(kIndexEntry);
  if (bytes != expected) {
    throw Error(
        fmt::format("{}/{}: the manifest gives the index {} bytes; {} samples need "
                    "{}",
                    dir_, kManifestName, bytes, samples_, expected));
  }
  bool exists = false;
  int64_t size = file_size(path, exists);
  if (!exists) throw Error(path + ": missing (the manifest lists it)");
  if (size != expected) {
    throw Error(fmt::format("{}: {}: the manifest says {} bytes, the file has {}", path,
                            size < expected ? "truncated" : "too long", expected, size));
  }
  std::vector<unsigned char> data(static_cast<size_t>(size));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
  size_t got = pread_all(fd, data.data(), data.size(), 0);
  ::close(fd);
  if (got != data.size()) {
    throw Error(fmt::format("{}: truncated at offset {} (read failed)", path, got));
  }
  uint32_t computed = crc_of(data.data(), data.size());
  if (computed != crc) {
    throw Error(path + ": CRC mismatch: the manifest says " + hex32(crc) + ", the file gives " +
                hex32(computed));
  }
  if (std::memcmp(data.data(), kIndexMagic, sizeof(kIndexMagic)) != 0 ||
      get<uint64_t>(data.data() + 8) != static_cast<uint64_t>(samples_)) {
    throw Error(path + ": not an index of this dataset (bad magic or sample count)");
  }
  entries_.resize(static_cast<size_t>(samples_));
  for (size_t i = 0; i < entries_.size(); ++i) {
    const unsigned char* at = data.data() + kIndexHeader + i * kIndexEntry;
    Entry& entry = entries_[i];
    entry.shard = get<uint32_t>(at);
    entry.record = get<uint32_t>(at + 4);
    entry.offset = get<uint64_t>(at + 8);
    entry.length = get<uint64_t>(at + 16);
    bool inside = entry.shard < shards_.size();
    if (inside) {
      const Shard& shard = shards_[entry.shard];
      inside = entry.record < static_cast<uint64_t>(shard.records) &&
               entry.offset >= sizeof(kShardMagic) &&
               entry.length >= kRecordHeader + kPayloadHeader &&
               entry.length <= static_cast<uint64_t>(shard.bytes) &&
               entry.offset <= static_cast<uint64_t>(shard.bytes) - entry.length;
    }
    if (!inside) {
      throw Error(
          fmt::format("{}: entry {} (shard {}, offset {}, {} bytes) lies outside "
                      "its shard",
                      path, i, entry.shard, static_cast<unsigned long long>(entry.offset),
                      static_cast<unsigned long long>(entry.length)));
    }
  }
}

void ShardSource::open_shards() {
  for (Shard& shard : shards_) {
    bool exists = false;
    int64_t size = file_size(shard.path, exists);
    if (!exists) throw Error(shard.path + ": missing (the manifest lists it)");
    if (size != shard.bytes) {
      throw Error(fmt::format("{}: {}: the manifest says {} bytes, the file has {}", shard.path,
                              size < shard.bytes ? "truncated" : "too long", shard.bytes, size));
    }
    shard.fd = ::open(shard.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (shard.fd < 0) throw Error(shard.path + ": cannot open: " + std::strerror(errno));
    char magic[sizeof(kShardMagic)] = {};
    if (pread_all(shard.fd, magic, sizeof(magic), 0) != sizeof(magic) ||
        std::memcmp(magic, kShardMagic, sizeof(magic)) != 0) {
      throw Error(shard.path + ": not a dlbench shard (bad magic at offset 0)");
    }
  }
}

int64_t ShardSource::size() const { return samples_; }

int64_t ShardSource::shard_bytes() const {
  int64_t total = 0;
  for (const Shard& shard : shards_) total += shard.bytes;
  return total;
}

std::string ShardSource::describe() const {
  return fmt::format("{} samples in {} shards ({}) at {}", samples_, shards(),
                     format_bytes(static_cast<double>(shard_bytes())), dir_) +
         (origin_.empty() ? "" : ", written from: " + origin_);
}

bool ShardSource::drop_page_cache() const {
  bool all = true;
  for (const Shard& shard : shards_) {
    if (::posix_fadvise(shard.fd, 0, 0, POSIX_FADV_DONTNEED) != 0) all = false;
  }
  return all;
}

Batch ShardSource::load(const std::vector<int64_t>& indices, uint64_t /*seed*/) const {
  Batch batch;
  batch.size = static_cast<int64_t>(indices.size());
  std::vector<unsigned char> buffer;
  std::vector<TensorView> first_views;
  int64_t first_sample = -1;
  for (size_t k = 0; k < indices.size(); ++k) {
    const int64_t sample = indices[k];
    if (sample < 0 || sample >= samples_) {
      throw Error(fmt::format("{}: sample {} out of range [0, {})", dir_, sample, samples_));
    }
    const Entry& entry = entries_[static_cast<size_t>(sample)];
    const Shard& shard = shards_[entry.shard];
    if (cost_.read_latency_us > 0) {
      std::this_thread::sleep_for(std::chrono::duration<double, std::micro>(cost_.read_latency_us));
    }
    buffer.resize(static_cast<size_t>(entry.length));
    size_t got =
        pread_all(shard.fd, buffer.data(), buffer.size(), static_cast<int64_t>(entry.offset));
    auto where = [&] {
      return fmt::format("{}: record {} (sample {}) at offset {}", shard.path, entry.record, sample,
                         static_cast<unsigned long long>(entry.offset));
    };
    if (got != buffer.size()) {
      throw Error(
          fmt::format("{}: truncated at offset {}: the record needs {} bytes, {} "
                      "could be read",
                      shard.path, static_cast<unsigned long long>(entry.offset + got),
                      static_cast<unsigned long long>(entry.length), got));
    }
    const uint32_t length = get<uint32_t>(buffer.data());
    const uint32_t stored_crc = get<uint32_t>(buffer.data() + 4);
    if (length != entry.length - kRecordHeader) {
      throw Error(fmt::format("{}: corrupt: the record says {} payload bytes, the index {}",
                              where(), length,
                              static_cast<unsigned long long>(entry.length - kRecordHeader)));
    }
    const unsigned char* payload = buffer.data() + kRecordHeader;
    const uint32_t computed_crc = crc_of(payload, length);
    if (computed_crc != stored_crc) {
      throw Error(fmt::format("{}: CRC mismatch at record {}: stored {:08x}, computed {:08x}",
                              shard.path, entry.record, stored_crc, computed_crc));
    }
    // The CRC matched, but the writer may still have been another program: parse with bounds.
    const unsigned char* end = payload + length;
    const unsigned char* at = payload;
    auto corrupt = [&](const std::string& what) { return Error(where() + ": corrupt: " + what); };
    if (get<uint64_t>(at) != static_cast<uint64_t>(sample)) {
      throw corrupt(
          fmt::format("holds sample {}", static_cast<unsigned long long>(get<uint64_t>(at))));
    }
    const uint32_t tensors = get<uint32_t>(at + 8);
    at += kPayloadHeader;
    std::vector<TensorView> views;
    for (uint32_t t = 0; t < tensors; ++t) {
      if (static_cast<size_t>(end - at) < kTensorHeader) throw corrupt("tensor header cut off");
      TensorView view;
      if (!type_of(at[0], view.type)) throw corrupt(fmt::format("unknown dtype code {}", at[0]));
      const int rank = at[1];
      at += kTensorHeader;
      if (rank > kMaxRank) throw corrupt(fmt::format("rank {}", rank));
      if (static_cast<size_t>(end - at) < static_cast<size_t>(rank) * 8 + 8) {
        throw corrupt("tensor shape cut off");
      }
      uint64_t numel = 1;
      for (int d = 0; d < rank; ++d) {
        int64_t dim = get<int64_t>(at);
        at += 8;
        if (dim < 0 || (dim > 0 && numel > (UINT64_MAX >> 1) / static_cast<uint64_t>(dim))) {
          throw corrupt(fmt::format("bad dimension {}", dim));
        }
        numel *= static_cast<uint64_t>(dim);
        view.dims.push_back(dim);
      }
      view.bytes = static_cast<size_t>(get<uint64_t>(at));
      at += 8;
      const size_t element = c10::elementSize(view.type);
      if (numel > (UINT64_MAX >> 1) / element || numel * element != view.bytes ||
          view.bytes > static_cast<size_t>(end - at)) {
        throw corrupt(fmt::format("tensor {} says {} bytes for shape {}", t, view.bytes,
                                  shape_text(view.dims)));
      }
      view.data = at;
      at += view.bytes;
      views.push_back(std::move(view));
    }
    if (cost_.decode_us > 0) {
      g_decode_sink.fetch_xor(decode_work(buffer.data(), buffer.size(), decode_iterations_),
                              std::memory_order_relaxed);
    }
    if (k == 0) {
      first_sample = sample;
      for (const TensorView& view : views) {
        std::vector<int64_t> shape = {batch.size};
        shape.insert(shape.end(), view.dims.begin(), view.dims.end());
        batch.tensors.push_back(torch::empty(shape, torch::TensorOptions().dtype(view.type)));
        first_views.push_back(TensorView{view.type, view.dims, nullptr, view.bytes});
      }
    } else {
      bool same = views.size() == first_views.size();
      for (size_t t = 0; same && t < views.size(); ++t) {
        same = views[t].type == first_views[t].type && views[t].dims == first_views[t].dims;
      }
      if (!same) {
        throw Error(
            fmt::format("{}: samples {} and {} differ in tensor count, dtype or shape: "
                        "they cannot be batched",
                        dir_, first_sample, sample));
      }
    }
    for (size_t t = 0; t < views.size(); ++t) {
      char* to = static_cast<char*>(batch.tensors[t].data_ptr());
      if (views[t].bytes > 0) std::memcpy(to + k * views[t].bytes, views[t].data, views[t].bytes);
    }
  }
  return batch;
}

}  // namespace dlbench::data
