// NetCDF classic format (CDF-1/2/5) reader and CDF-1/2 writer, from Unidata's "NetCDF Classic
// Format Specification" (netcdf-c docs/file_format_specifications.md):
//   header   = magic numrecs dim_list gatt_list var_list
//   dim_list = ABSENT | NC_DIMENSION(0x0A) nelems [name dim_length ...]
//   att_list = ABSENT | NC_ATTRIBUTE(0x0C) nelems [name nc_type nelems values(padded to 4) ...]
//   var_list = ABSENT | NC_VARIABLE(0x0B) nelems [name ndims dimid... vatt_list nc_type vsize
//                                                  begin ...]
// All integers big-endian; counts/lengths are 32-bit (64-bit in CDF-5), begin is 32-bit in CDF-1
// and 64-bit otherwise; names are padded to 4 bytes. Record variables store one slab per record,
// interleaved: record r of a variable starts at begin + r * (sum of the record variables' slab
// sizes, each padded to 4; unpadded when there is a single record variable).
// The header is read through a bounds-checked cursor, every count is checked against the bytes
// left in the file before anything is allocated, and every variable's extent against the file
// size when the file is opened.
#include "data/netcdf.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/safe_file.h"
#include "core/strings.h"
#include "data/bytes.h"
#include "data/image.h"

namespace dlbench::data {
namespace {

constexpr uint32_t kTagAbsent = 0x00;
constexpr uint32_t kTagDimension = 0x0A;
constexpr uint32_t kTagVariable = 0x0B;
constexpr uint32_t kTagAttribute = 0x0C;
constexpr int64_t kMaxNameLength = 256;  // NC_MAX_NAME
constexpr int64_t kMaxVarDims = 1024;    // NC_MAX_VAR_DIMS

int type_size(NcType type) {
  switch (type) {
    case NcType::kByte:
    case NcType::kChar:
    case NcType::kUByte:
      return 1;
    case NcType::kShort:
    case NcType::kUShort:
      return 2;
    case NcType::kInt:
    case NcType::kFloat:
    case NcType::kUInt:
      return 4;
    case NcType::kDouble:
    case NcType::kInt64:
    case NcType::kUInt64:
      return 8;
  }
  return 0;
}

bool valid_type_code(uint32_t code, int version) {
  return code >= 1 && code <= (version == 5 ? 11u : 6u);
}

int64_t pad4(int64_t n) { return (n + 3) / 4 * 4; }

// The stored bit pattern of one element as a dtype of the same size.
torch::ScalarType storage_dtype(NcType type) {
  switch (type) {
    case NcType::kByte:
      return torch::kInt8;
    case NcType::kChar:
    case NcType::kUByte:
      return torch::kUInt8;
    case NcType::kShort:
    case NcType::kUShort:
      return torch::kInt16;
    case NcType::kInt:
    case NcType::kUInt:
      return torch::kInt32;
    case NcType::kFloat:
      return torch::kFloat32;
    case NcType::kDouble:
      return torch::kFloat64;
    case NcType::kInt64:
    case NcType::kUInt64:
      return torch::kInt64;
  }
  return torch::kUInt8;
}

// Decodes `count` big-endian values of `type` to doubles (attribute values).
std::vector<double> decode_numbers(const uint8_t* bytes, int64_t count, NcType type) {
  std::vector<double> values(static_cast<size_t>(count));
  const int size = type_size(type);
  for (int64_t i = 0; i < count; ++i) {
    uint64_t bits = 0;
    for (int b = 0; b < size; ++b) bits = (bits << 8) | bytes[i * size + b];
    double value = 0;
    switch (type) {
      case NcType::kByte:
        value = static_cast<int8_t>(bits);
        break;
      case NcType::kChar:
      case NcType::kUByte:
        value = static_cast<uint8_t>(bits);
        break;
      case NcType::kShort:
        value = static_cast<int16_t>(bits);
        break;
      case NcType::kUShort:
        value = static_cast<uint16_t>(bits);
        break;
      case NcType::kInt:
        value = static_cast<int32_t>(bits);
        break;
      case NcType::kUInt:
        value = static_cast<uint32_t>(bits);
        break;
      case NcType::kFloat: {
        const uint32_t word = static_cast<uint32_t>(bits);
        float f;
        std::memcpy(&f, &word, 4);
        value = f;
        break;
      }
      case NcType::kDouble:
        std::memcpy(&value, &bits, 8);
        break;
      case NcType::kInt64:
        value = static_cast<double>(static_cast<int64_t>(bits));
        break;
      case NcType::kUInt64:
        value = static_cast<double>(bits);
        break;
    }
    values[static_cast<size_t>(i)] = value;
  }
  return values;
}

// Bounds-checked big-endian cursor over the start of a file, loading more of it on demand.
class HeaderCursor {
 public:
  HeaderCursor(const std::string& path, int fd, int64_t file_size, int version)
      : path_(path), fd_(fd), file_size_(file_size), version_(version) {}

  int64_t position() const { return position_; }
  int64_t left() const { return file_size_ - position_; }

  const uint8_t* take(int64_t n, const std::string& what) {
    if (n < 0 || n > left()) {
      throw Error(
          fmt::format("{}: truncated header: {} needs {} bytes at offset {}, the file "
                      "has {} bytes",
                      path_, what, n, position_, file_size_));
    }
    const int64_t end = position_ + n;
    if (end > static_cast<int64_t>(buffer_.size())) load(end);
    const uint8_t* data = buffer_.data() + position_;
    position_ = end;
    return data;
  }

  uint64_t unsigned_be(int size, const std::string& what) {
    const uint8_t* bytes = take(size, what);
    uint64_t value = 0;
    for (int i = 0; i < size; ++i) value = (value << 8) | bytes[i];
    return value;
  }

  uint32_t u32(const std::string& what) { return static_cast<uint32_t>(unsigned_be(4, what)); }

  // NON_NEG: 32-bit in CDF-1/2, 64-bit in CDF-5; must be >= 0 as a signed number.
  int64_t non_negative(const std::string& what) {
    const int size = version_ == 5 ? 8 : 4;
    const uint64_t value = unsigned_be(size, what);
    const uint64_t limit = size == 8 ? uint64_t{0x7FFFFFFFFFFFFFFF} : uint64_t{0x7FFFFFFF};
    if (value > limit) {
      throw Error(fmt::format("{}: corrupt header: {} is negative (0x{:x}) at offset {}", path_,
                              what, static_cast<unsigned long long>(value), position_ - size));
    }
    return static_cast<int64_t>(value);
  }

  // A count of items each taking at least `min_bytes` of the header: checked against the file.
  int64_t count(const std::string& what, int64_t min_bytes) {
    const int64_t n = non_negative(what);
    if (n > left() / min_bytes) {
      throw Error(
          fmt::format("{}: corrupt header: {} is {}, more than the {} bytes left in "
                      "the file can hold",
                      path_, what, n, left()));
    }
    return n;
  }

  // OFFSET: 32-bit in CDF-1, 64-bit in CDF-2/5.
  int64_t offset(const std::string& what) {
    const int size = version_ == 1 ? 4 : 8;
    const uint64_t value = unsigned_be(size, what);
    const uint64_t limit = size == 8 ? uint64_t{0x7FFFFFFFFFFFFFFF} : uint64_t{0x7FFFFFFF};
    if (value > limit) {
      throw Error(fmt::format("{}: corrupt header: {} is negative", path_, what));
    }
    return static_cast<int64_t>(value);
  }

  std::string name(const std::string& what) {
    const int64_t length = non_negative(what + " name length");
    if (length == 0) {
      throw Error(fmt::format("{}: corrupt header: {} has an empty name (offset {})", path_, what,
                              position_));
    }
    if (length > kMaxNameLength) {
      throw Error(
          fmt::format("{}: corrupt header: {} name is {} bytes long, above the {}-byte "
                      "limit (offset {})",
                      path_, what, length, kMaxNameLength, position_));
    }
    const uint8_t* bytes = take(pad4(length), what + " name");
    std::string text(reinterpret_cast<const char*>(bytes), static_cast<size_t>(length));
    if (text.find('\0') != std::string::npos) {
      throw Error(fmt::format("{}: corrupt header: {} name contains a NUL byte", path_, what));
    }
    return text;
  }

 private:
  void load(int64_t end) {
    const int64_t want = std::min(
        file_size_, std::max<int64_t>(end, 2 * static_cast<int64_t>(buffer_.size()) + 65536));
    const size_t old = buffer_.size();
    buffer_.resize(static_cast<size_t>(want));
    size_t done = old;
    while (done < buffer_.size()) {
      const ssize_t got =
          ::pread(fd_, buffer_.data() + done, buffer_.size() - done, static_cast<off_t>(done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        throw Error(fmt::format("{}: read error at offset {}: {}", path_, done,
                                got < 0 ? std::strerror(errno) : "unexpected end of file"));
      }
      done += static_cast<size_t>(got);
    }
  }

  std::string path_;
  int fd_;
  int64_t file_size_;
  int version_;
  int64_t position_ = 0;
  std::vector<uint8_t> buffer_;
};

std::vector<NcAttribute> read_attributes(HeaderCursor& cursor, const std::string& path, int version,
                                         const std::string& owner) {
  const uint32_t tag = cursor.u32(owner + " attribute list tag");
  const int64_t count = cursor.count(owner + " attribute count", 12);
  if (tag == kTagAbsent && count == 0) return {};
  if (tag != kTagAttribute) {
    throw Error(
        fmt::format("{}: corrupt header: expected the {} attribute list (tag 0x0C or "
                    "absent), found tag 0x{:X}",
                    path, owner, tag));
  }
  std::vector<NcAttribute> attributes;
  for (int64_t i = 0; i < count; ++i) {
    NcAttribute attribute;
    const std::string label = fmt::format("{} attribute {}", owner, i);
    attribute.name = cursor.name(label);
    const std::string named = owner + " attribute '" + attribute.name + "'";
    const uint32_t code = cursor.u32(named + " type");
    if (!valid_type_code(code, version)) {
      throw Error(
          fmt::format("{}: corrupt header: {} has unknown type code {} (CDF-{} knows 1..{})", path,
                      named, code, version, version == 5 ? 11 : 6));
    }
    attribute.type = static_cast<NcType>(code);
    const int size = type_size(attribute.type);
    const int64_t n = cursor.count(named + " value count", size);
    const uint8_t* bytes = cursor.take(pad4(n * size), named + " values");
    if (attribute.type == NcType::kChar) {
      attribute.text.assign(reinterpret_cast<const char*>(bytes), static_cast<size_t>(n));
      while (!attribute.text.empty() && attribute.text.back() == '\0') attribute.text.pop_back();
    } else {
      attribute.values = decode_numbers(bytes, n, attribute.type);
    }
    attributes.push_back(std::move(attribute));
  }
  return attributes;
}

std::string format_values(const NcAttribute& attribute) {
  if (attribute.is_text()) return "\"" + attribute.text + "\"";
  std::vector<std::string> parts;
  for (double value : attribute.values) parts.push_back(format_number(value));
  return join(parts, ", ");
}

// Writer: big-endian bytes into a buffer.
class HeaderWriter {
 public:
  explicit HeaderWriter(int version) : version_(version) {}
  std::vector<uint8_t>& bytes() { return bytes_; }
  void u32(uint64_t value) { be(value, 4); }
  void non_negative(int64_t value) { be(static_cast<uint64_t>(value), version_ == 5 ? 8 : 4); }
  void offset(int64_t value) { be(static_cast<uint64_t>(value), version_ == 1 ? 4 : 8); }
  void pad() {
    while (bytes_.size() % 4 != 0) bytes_.push_back(0);
  }
  void name(const std::string& text) {
    non_negative(static_cast<int64_t>(text.size()));
    bytes_.insert(bytes_.end(), text.begin(), text.end());
    pad();
  }
  void be(uint64_t value, int size) {
    for (int shift = 8 * (size - 1); shift >= 0; shift -= 8)
      bytes_.push_back((value >> shift) & 0xFF);
  }

 private:
  int version_;
  std::vector<uint8_t> bytes_;
};

void write_attributes(HeaderWriter& out, const std::vector<NcAttribute>& attributes,
                      const std::string& path) {
  if (attributes.empty()) {
    out.u32(kTagAbsent);
    out.non_negative(0);
    return;
  }
  out.u32(kTagAttribute);
  out.non_negative(static_cast<int64_t>(attributes.size()));
  for (const NcAttribute& attribute : attributes) {
    out.name(attribute.name);
    out.u32(static_cast<uint32_t>(attribute.type));
    if (attribute.type == NcType::kChar) {
      out.non_negative(static_cast<int64_t>(attribute.text.size()));
      out.bytes().insert(out.bytes().end(), attribute.text.begin(), attribute.text.end());
    } else {
      out.non_negative(static_cast<int64_t>(attribute.values.size()));
      for (double value : attribute.values) {
        switch (attribute.type) {
          case NcType::kByte:
            out.be(static_cast<uint8_t>(static_cast<int8_t>(value)), 1);
            break;
          case NcType::kShort:
            out.be(static_cast<uint16_t>(static_cast<int16_t>(value)), 2);
            break;
          case NcType::kInt:
            out.be(static_cast<uint32_t>(static_cast<int32_t>(value)), 4);
            break;
          case NcType::kFloat: {
            const float f = static_cast<float>(value);
            uint32_t bits;
            std::memcpy(&bits, &f, 4);
            out.be(bits, 4);
            break;
          }
          case NcType::kDouble: {
            uint64_t bits;
            std::memcpy(&bits, &value, 8);
            out.be(bits, 8);
            break;
          }
          default:
            throw Error(fmt::format("{}: the writer does not handle attributes of type {}", path,
                                    nc_type_name(attribute.type)));
        }
      }
    }
    out.pad();
  }
}

}  // namespace

std::string nc_type_name(NcType type) {
  static const char* const kNames[] = {"?",      "byte",  "char",   "short", "int",   "float",
                                       "double", "ubyte", "ushort", "uint",  "int64", "uint64"};
  const int code = static_cast<int>(type);
  return code >= 1 && code <= 11 ? kNames[code] : "unknown";
}

NcAttribute NcAttribute::of_text(std::string name, std::string value) {
  NcAttribute attribute;
  attribute.name = std::move(name);
  attribute.type = NcType::kChar;
  attribute.text = std::move(value);
  return attribute;
}

NcAttribute NcAttribute::of_numbers(std::string name, NcType type, std::vector<double> values) {
  NcAttribute attribute;
  attribute.name = std::move(name);
  attribute.type = type;
  attribute.values = std::move(values);
  return attribute;
}

const NcAttribute* NcVariable::attribute(const std::string& wanted) const {
  for (const NcAttribute& attribute : attributes) {
    if (attribute.name == wanted) return &attribute;
  }
  return nullptr;
}

NetcdfFile NetcdfFile::open(const std::string& path) {
  NetcdfFile file;
  file.path_ = path;
  file.file_size_ = file_size(path);
  if (file.file_size_ == 0) throw Error(path + ": empty file (not a netCDF file)");
  const int fd = open_data_file(path);  // regular files only: a FIFO would block
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};

  uint8_t head[8] = {0};
  const ssize_t got = ::pread(fd, head, sizeof head, 0);
  if (got < 0) throw Error(fmt::format("{}: read error: {}", path, std::strerror(errno)));
  if (got >= 4 && std::memcmp(head, "\x89HDF", 4) == 0) {
    throw Error(path +
                ": netCDF-4/HDF5 files are not supported by this reader; convert with "
                "nccopy -k classic IN OUT");
  }
  if (got < 4 || std::memcmp(head, "CDF", 3) != 0) {
    const std::string kind = describe_content(head, static_cast<size_t>(got));
    throw Error(fmt::format("{}: not a netCDF file: no 'CDF' magic number{}", path,
                            kind.empty() ? "" : (" (the content looks like " + kind + ")")));
  }
  if (head[3] != 1 && head[3] != 2 && head[3] != 5) {
    throw Error(
        fmt::format("{}: unknown netCDF classic version byte 0x{:02X} (known: 1 classic, 2 "
                    "64-bit offset, 5 64-bit data)",
                    path, head[3]));
  }
  file.version_ = head[3];
  const int version = file.version_;
  HeaderCursor cursor(path, fd, file.file_size_, version);
  cursor.take(4, "magic number");

  // numrecs, possibly "streaming" (all bits set): the count then follows from the file size.
  const uint64_t raw_records = cursor.unsigned_be(version == 5 ? 8 : 4, "record count");
  const bool streaming = version == 5 ? raw_records == ~uint64_t{0} : raw_records == 0xFFFFFFFFu;
  if (!streaming && raw_records > (version == 5 ? uint64_t{0x7FFFFFFFFFFFFFFF} : 0x7FFFFFFFu)) {
    throw Error(fmt::format("{}: corrupt header: record count is negative", path));
  }

  // Dimensions.
  const uint32_t dim_tag = cursor.u32("dimension list tag");
  const int64_t dim_count = cursor.count("dimension count", 8);
  if (!(dim_tag == kTagAbsent && dim_count == 0) && dim_tag != kTagDimension) {
    throw Error(
        fmt::format("{}: corrupt header: expected the dimension list (tag 0x0A or absent), "
                    "found tag 0x{:X}",
                    path, dim_tag));
  }
  int unlimited_id = -1;
  for (int64_t i = 0; i < dim_count; ++i) {
    NcDimension dimension;
    dimension.name = cursor.name(fmt::format("dimension {}", i));
    dimension.length = cursor.non_negative("dimension '" + dimension.name + "' length");
    if (dimension.length == 0) {
      if (unlimited_id >= 0) {
        throw Error(fmt::format("{}: corrupt header: two unlimited dimensions ('{}' and '{}')",
                                path, file.dimensions_[unlimited_id].name, dimension.name));
      }
      dimension.unlimited = true;
      unlimited_id = static_cast<int>(i);
    }
    file.dimensions_.push_back(std::move(dimension));
  }

  file.attributes_ = read_attributes(cursor, path, version, "global");

  // Variables.
  const uint32_t var_tag = cursor.u32("variable list tag");
  const int64_t var_count = cursor.count("variable count", 16);
  if (!(var_tag == kTagAbsent && var_count == 0) && var_tag != kTagVariable) {
    throw Error(
        fmt::format("{}: corrupt header: expected the variable list (tag 0x0B or absent), "
                    "found tag 0x{:X}",
                    path, var_tag));
  }
  for (int64_t i = 0; i < var_count; ++i) {
    NcVariable variable;
    variable.name = cursor.name(fmt::format("variable {}", i));
    const std::string named = "variable '" + variable.name + "'";
    const int64_t ndims = cursor.count(named + " dimension count", version == 5 ? 8 : 4);
    if (ndims > kMaxVarDims) {
      throw Error(fmt::format("{}: corrupt header: {} has {} dimensions (at most {})", path, named,
                              ndims, kMaxVarDims));
    }
    for (int64_t d = 0; d < ndims; ++d) {
      const int64_t id = cursor.non_negative(named + " dimension id");
      if (id >= dim_count) {
        throw Error(
            fmt::format("{}: corrupt header: {} uses dimension id {}, the file has {} "
                        "dimensions",
                        path, named, id, dim_count));
      }
      if (id == unlimited_id && d != 0) {
        throw Error(
            fmt::format("{}: corrupt header: {} has the unlimited dimension '{}' in "
                        "position {} (it must come first)",
                        path, named, file.dimensions_[id].name, d));
      }
      variable.dimension_ids.push_back(static_cast<int>(id));
      variable.dimension_names.push_back(file.dimensions_[id].name);
    }
    variable.is_record = ndims > 0 && variable.dimension_ids[0] == unlimited_id;
    variable.attributes = read_attributes(cursor, path, version, named);
    const uint32_t code = cursor.u32(named + " type");
    if (!valid_type_code(code, version)) {
      throw Error(
          fmt::format("{}: corrupt header: {} has unknown type code {} (CDF-{} knows 1..{})", path,
                      named, code, version, version == 5 ? 11 : 6));
    }
    variable.type = static_cast<NcType>(code);
    // vsize is redundant (and capped for huge variables): the size is computed from the shape.
    cursor.unsigned_be(version == 5 ? 8 : 4, named + " size");
    variable.begin = cursor.offset(named + " data offset");
    file.variables_.push_back(std::move(variable));
  }
  const int64_t header_end = cursor.position();

  // Slab sizes (per record for record variables), record stride, record count.
  std::vector<int64_t> slab_bytes;
  int record_variables = 0;
  int64_t first_record_begin = std::numeric_limits<int64_t>::max();
  for (const NcVariable& variable : file.variables_) {
    int64_t bytes = type_size(variable.type);
    for (size_t d = variable.is_record ? 1 : 0; d < variable.dimension_ids.size(); ++d) {
      const int64_t length = file.dimensions_[variable.dimension_ids[d]].length;
      if (__builtin_mul_overflow(bytes, length, &bytes)) {
        throw Error(
            fmt::format("{}: corrupt header: variable '{}' is too large (size overflows 64 "
                        "bits)",
                        path, variable.name));
      }
    }
    slab_bytes.push_back(bytes);
    if (variable.is_record) {
      ++record_variables;
      first_record_begin = std::min(first_record_begin, variable.begin);
    }
  }
  int64_t stride = 0;
  for (size_t v = 0; v < file.variables_.size(); ++v) {
    if (file.variables_[v].is_record) {
      stride += record_variables == 1 ? slab_bytes[v] : pad4(slab_bytes[v]);
    }
  }
  file.record_stride_ = stride;
  if (streaming) {
    file.records_ = record_variables > 0 && stride > 0 && first_record_begin < file.file_size_
                        ? (file.file_size_ - first_record_begin) / stride
                        : 0;
  } else {
    file.records_ = static_cast<int64_t>(raw_records);
  }
  if (unlimited_id >= 0) file.dimensions_[unlimited_id].length = file.records_;

  // Shapes, and every variable's extent against the file.
  for (size_t v = 0; v < file.variables_.size(); ++v) {
    NcVariable& variable = file.variables_[v];
    for (int id : variable.dimension_ids) variable.shape.push_back(file.dimensions_[id].length);
    const int64_t count = variable.is_record ? file.records_ : 1;
    if (slab_bytes[v] == 0 || count == 0) continue;
    if (variable.begin < header_end) {
      throw Error(
          fmt::format("{}: corrupt header: variable '{}' data offset {} lies inside the "
                      "header ({} bytes)",
                      path, variable.name, variable.begin, header_end));
    }
    int64_t end = 0;
    const bool overflow = __builtin_mul_overflow(count - 1, stride, &end) ||
                          __builtin_add_overflow(end, variable.begin, &end) ||
                          __builtin_add_overflow(end, slab_bytes[v], &end);
    if (overflow || end > file.file_size_) {
      throw Error(fmt::format(
          "{}: truncated: variable '{}' ({}{}) needs bytes up to offset {}, the file has {} "
          "bytes",
          path, variable.name, nc_type_name(variable.type),
          variable.is_record ? fmt::format(", {} records", count) : "", overflow ? -1 : end,
          file.file_size_));
    }
  }
  return file;
}

bool NetcdfFile::has_variable(const std::string& name) const {
  for (const NcVariable& variable : variables_) {
    if (variable.name == name) return true;
  }
  return false;
}

const NcVariable& NetcdfFile::variable(const std::string& name) const {
  std::vector<std::string> names;
  for (const NcVariable& variable : variables_) {
    if (variable.name == name) return variable;
    names.push_back(variable.name);
  }
  const std::string close = nearest(name, names);
  throw Error(fmt::format("{}: no variable '{}'{} (variables: {})", path_, name,
                          close.empty() ? "" : (", did you mean '" + close + "'?"),
                          join(names, ", ")));
}

torch::Tensor NetcdfFile::read(const std::string& name) const {
  const NcVariable& variable = this->variable(name);
  const int size = type_size(variable.type);
  int64_t slab_elements = 1;
  for (size_t d = variable.is_record ? 1 : 0; d < variable.shape.size(); ++d) {
    slab_elements *= variable.shape[d];
  }
  const int64_t slabs = variable.is_record ? records_ : 1;
  torch::Tensor raw =
      torch::empty(variable.shape, torch::TensorOptions().dtype(storage_dtype(variable.type)));
  auto* out = static_cast<uint8_t*>(raw.data_ptr());
  const int64_t slab_bytes = slab_elements * size;
  if (slab_bytes > 0 && slabs > 0) {
    const int fd = open_data_file(path_);
    struct FdCloser {
      int fd;
      ~FdCloser() { ::close(fd); }
    } closer{fd};
    for (int64_t r = 0; r < slabs; ++r) {
      const int64_t offset = variable.begin + r * record_stride_;
      int64_t done = 0;
      while (done < slab_bytes) {
        const ssize_t got =
            ::pread(fd, out + r * slab_bytes + done, static_cast<size_t>(slab_bytes - done),
                    static_cast<off_t>(offset + done));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
          throw Error(fmt::format(
              "{}: variable '{}': read error at offset {}: {}", path_, name, offset + done,
              got < 0 ? std::strerror(errno) : "unexpected end of file (changed since opened?)"));
        }
        done += got;
      }
    }
  }
  swap_big_endian(out, raw.numel(), size);
  switch (variable.type) {
    case NcType::kUShort:
      return raw.to(torch::kInt32).bitwise_and(0xFFFF);
    case NcType::kUInt:
      return raw.to(torch::kInt64).bitwise_and(int64_t{0xFFFFFFFF});
    case NcType::kUInt64:
      if (raw.numel() > 0 && raw.lt(0).any().item<bool>()) {
        throw Error(fmt::format("{}: variable '{}': uint64 values above 2^63 - 1 are not supported",
                                path_, name));
      }
      return raw;
    default:
      return raw;
  }
}

torch::Tensor unpack_variable(const NcVariable& variable, const torch::Tensor& raw) {
  if (variable.type == NcType::kChar) {
    throw Error("variable '" + variable.name + "' holds characters, not numbers");
  }
  auto number = [&](const char* name, double fallback, bool* is_double) {
    const NcAttribute* attribute = variable.attribute(name);
    if (attribute == nullptr || attribute->is_text() || attribute->values.empty()) return fallback;
    if (attribute->type == NcType::kDouble) *is_double = true;
    return attribute->values[0];
  };
  bool wide = variable.type == NcType::kDouble;
  const double scale = number("scale_factor", 1.0, &wide);
  const double offset = number("add_offset", 0.0, &wide);
  torch::Tensor values = raw.to(torch::kFloat64);
  torch::Tensor missing = torch::zeros_like(values, torch::kBool);
  for (const char* name : {"_FillValue", "missing_value"}) {
    const NcAttribute* attribute = variable.attribute(name);
    if (attribute == nullptr || attribute->is_text()) continue;
    for (double value : attribute->values) {
      // Compare in the stored type: a double -1e34 attribute on a float variable means the
      // float nearest to it.
      const double stored =
          variable.type == NcType::kFloat ? static_cast<double>(static_cast<float>(value)) : value;
      missing.logical_or_(values.eq(stored));
    }
  }
  if (scale != 1.0) values.mul_(scale);
  if (offset != 0.0) values.add_(offset);
  values.masked_fill_(missing, std::numeric_limits<double>::quiet_NaN());
  return wide ? values : values.to(torch::kFloat32);
}

torch::Tensor NetcdfFile::read_unpacked(const std::string& name) const {
  const NcVariable& variable = this->variable(name);
  if (variable.type == NcType::kChar) {
    throw Error(fmt::format("{}: variable '{}' holds characters, not numbers", path_, name));
  }
  return unpack_variable(variable, read(name));
}

std::string NetcdfFile::describe() const {
  std::string text = fmt::format("{}: netCDF CDF-{}, {} records\n", path_, version_, records_);
  for (const NcDimension& dimension : dimensions_) {
    text += fmt::format("  dimension {} = {}{}\n", dimension.name, dimension.length,
                        dimension.unlimited ? " (unlimited)" : "");
  }
  for (const NcVariable& variable : variables_) {
    std::vector<std::string> dims;
    for (size_t d = 0; d < variable.shape.size(); ++d) {
      dims.push_back(variable.dimension_names[d] + "=" + std::to_string(variable.shape[d]));
    }
    const NcAttribute* units = variable.attribute("units");
    text += fmt::format(
        "  variable {} {}({}){}{}\n", nc_type_name(variable.type), variable.name, join(dims, ", "),
        units != nullptr && units->is_text() ? (" units=" + units->text).c_str() : "",
        variable.is_record ? " [record]" : "");
  }
  for (const NcAttribute& attribute : attributes_) {
    text += fmt::format("  :{} = {}\n", attribute.name, format_values(attribute));
  }
  return text;
}

void write_netcdf_classic(const std::string& path, const std::vector<NcDimension>& dimensions,
                          const std::vector<NcAttribute>& global_attributes,
                          const std::vector<NcWriteVariable>& variables, int version) {
  if (version != 1 && version != 2 && version != 5) {
    throw Error(
        fmt::format("{}: the writer writes CDF-1, CDF-2 or CDF-5, not version {}", path, version));
  }
  int unlimited_id = -1;
  for (size_t d = 0; d < dimensions.size(); ++d) {
    if (!dimensions[d].unlimited && dimensions[d].length <= 0) {
      throw Error(fmt::format("{}: dimension '{}' must have a length >= 1 or be unlimited", path,
                              dimensions[d].name));
    }
    if (dimensions[d].unlimited) {
      if (unlimited_id >= 0) throw Error(path + ": at most one unlimited dimension");
      unlimited_id = static_cast<int>(d);
    }
  }
  auto dimension_id = [&](const std::string& name, const std::string& variable) {
    for (size_t d = 0; d < dimensions.size(); ++d) {
      if (dimensions[d].name == name) return static_cast<int>(d);
    }
    throw Error(fmt::format("{}: variable '{}' uses unknown dimension '{}'", path, variable, name));
  };

  // Converted, big-endian data and per-variable layout.
  struct Layout {
    std::vector<int> ids;
    bool is_record = false;
    int64_t slab_bytes = 0;
    torch::Tensor data;
  };
  std::vector<Layout> layouts;
  int64_t records = -1;
  int record_variables = 0;
  for (const NcWriteVariable& variable : variables) {
    const int code = static_cast<int>(variable.type);
    if (code < 1 || code > 6) {
      throw Error(
          fmt::format("{}: variable '{}': the writer handles byte, char, short, int, float "
                      "and double",
                      path, variable.name));
    }
    Layout layout;
    std::vector<int64_t> shape;
    for (size_t d = 0; d < variable.dimensions.size(); ++d) {
      const int id = dimension_id(variable.dimensions[d], variable.name);
      if (id == unlimited_id && d != 0) {
        throw Error(fmt::format("{}: variable '{}': the unlimited dimension must come first", path,
                                variable.name));
      }
      layout.ids.push_back(id);
      shape.push_back(id == unlimited_id ? variable.data.size(0) : dimensions[id].length);
    }
    layout.is_record = !layout.ids.empty() && layout.ids[0] == unlimited_id;
    if (variable.data.sizes().vec() != shape) {
      throw Error(
          fmt::format("{}: variable '{}': data has {} dimensions or sizes that differ from "
                      "its dimensions",
                      path, variable.name, static_cast<int>(variable.data.dim())));
    }
    if (layout.is_record) {
      if (records >= 0 && records != shape[0]) {
        throw Error(fmt::format("{}: record variables disagree on the record count ({} vs {})",
                                path, records, shape[0]));
      }
      records = shape[0];
      ++record_variables;
    }
    layout.data = variable.data.cpu().to(storage_dtype(variable.type)).contiguous().clone();
    const int size = type_size(variable.type);
    swap_big_endian(static_cast<uint8_t*>(layout.data.data_ptr()), layout.data.numel(), size);
    layout.slab_bytes = size;  // a record's slab (record variables) or the whole variable
    for (size_t d = layout.is_record ? 1 : 0; d < shape.size(); ++d) layout.slab_bytes *= shape[d];
    layouts.push_back(std::move(layout));
  }
  if (records < 0) records = 0;

  auto padded_slab = [&](const Layout& layout) {
    return record_variables == 1 ? layout.slab_bytes : pad4(layout.slab_bytes);
  };
  // The header's size does not depend on the offsets it holds: write it once with zeros to
  // learn it, then again with the real offsets.
  auto header = [&](const std::vector<int64_t>& begins) {
    HeaderWriter out(version);
    out.bytes() = {'C', 'D', 'F', static_cast<uint8_t>(version)};
    out.non_negative(records);
    if (dimensions.empty()) {
      out.u32(kTagAbsent);
      out.non_negative(0);
    } else {
      out.u32(kTagDimension);
      out.non_negative(static_cast<int64_t>(dimensions.size()));
      for (const NcDimension& dimension : dimensions) {
        out.name(dimension.name);
        out.non_negative(dimension.unlimited ? 0 : dimension.length);
      }
    }
    write_attributes(out, global_attributes, path);
    if (variables.empty()) {
      out.u32(kTagAbsent);
      out.non_negative(0);
    } else {
      out.u32(kTagVariable);
      out.non_negative(static_cast<int64_t>(variables.size()));
      for (size_t v = 0; v < variables.size(); ++v) {
        out.name(variables[v].name);
        out.non_negative(static_cast<int64_t>(layouts[v].ids.size()));
        for (int id : layouts[v].ids) out.non_negative(id);
        write_attributes(out, variables[v].attributes, path);
        out.u32(static_cast<uint32_t>(variables[v].type));
        const int64_t vsize =
            pad4(layouts[v].is_record ? layouts[v].slab_bytes
                                      : layouts[v].data.numel() * type_size(variables[v].type));
        out.non_negative(version == 5 ? vsize : std::min<int64_t>(vsize, 0xFFFFFFFF));
        out.offset(begins[v]);
      }
    }
    return out.bytes();
  };
  std::vector<int64_t> begins(variables.size(), 0);
  const int64_t header_size = static_cast<int64_t>(header(begins).size());
  int64_t position = header_size;
  for (size_t v = 0; v < variables.size(); ++v) {
    if (layouts[v].is_record) continue;
    begins[v] = position;
    position += pad4(layouts[v].data.numel() * type_size(variables[v].type));
  }
  const int64_t records_start = position;
  int64_t stride = 0;
  for (size_t v = 0; v < variables.size(); ++v) {
    if (!layouts[v].is_record) continue;
    begins[v] = records_start + stride;
    stride += padded_slab(layouts[v]);
  }
  const int64_t total = records_start + stride * records;
  if (version == 1 && records_start + stride > 0x7FFFFFFF) {
    throw Error(path + ": too large for CDF-1 (offsets above 2^31 - 1): write version 2");
  }

  std::vector<uint8_t> bytes = header(begins);
  bytes.resize(static_cast<size_t>(total), 0);
  for (size_t v = 0; v < variables.size(); ++v) {
    const auto* data = static_cast<const uint8_t*>(layouts[v].data.data_ptr());
    if (!layouts[v].is_record) {
      std::memcpy(bytes.data() + begins[v], data,
                  static_cast<size_t>(layouts[v].data.numel() * type_size(variables[v].type)));
      continue;
    }
    for (int64_t r = 0; r < records; ++r) {
      std::memcpy(bytes.data() + begins[v] + r * stride, data + r * layouts[v].slab_bytes,
                  static_cast<size_t>(layouts[v].slab_bytes));
    }
  }
  write_file(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
             WriteOptions{0644, true, "NetCDF file"});
}

}  // namespace dlbench::data
