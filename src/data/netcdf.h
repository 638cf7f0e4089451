// NetCDF classic-format reader (CDF-1 classic, CDF-2 64-bit offset, CDF-5 64-bit data) and a
// small writer, written from Unidata's "NetCDF Classic Format Specification". netCDF-4 files
// (HDF5 inside) are recognised and refused with the nccopy command that converts them.
// Formats, checks and messages: docs/data-formats.md.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dlbench::data {

/// The external data types of the classic format (codes as stored). 7..11 exist in CDF-5 only.
enum class NcType : int {
  kByte = 1,     ///< int8
  kChar = 2,     ///< 8-bit character (text)
  kShort = 3,    ///< int16
  kInt = 4,      ///< int32
  kFloat = 5,    ///< float32
  kDouble = 6,   ///< float64
  kUByte = 7,    ///< uint8 (CDF-5)
  kUShort = 8,   ///< uint16 (CDF-5)
  kUInt = 9,     ///< uint32 (CDF-5)
  kInt64 = 10,   ///< int64 (CDF-5)
  kUInt64 = 11,  ///< uint64 (CDF-5)
};

/// "byte", "char", "short", "int", "float", "double", "ubyte", ...
std::string nc_type_name(NcType type);

/// A dimension. The unlimited (record) dimension's length is the file's record count.
struct NcDimension {
  std::string name;
  int64_t length = 0;
  bool unlimited = false;
};

/// An attribute: text (type char) or numbers (any other type, held as doubles).
struct NcAttribute {
  std::string name;
  NcType type = NcType::kChar;
  std::string text;            ///< the value of a char attribute (trailing NULs removed)
  std::vector<double> values;  ///< the values of a numeric attribute
  bool is_text() const { return type == NcType::kChar; }
  /// Text attribute of `value`.
  static NcAttribute of_text(std::string name, std::string value);
  /// Numeric attribute of `type` holding `values`.
  static NcAttribute of_numbers(std::string name, NcType type, std::vector<double> values);
};

/// A variable as the header describes it.
struct NcVariable {
  std::string name;
  NcType type = NcType::kFloat;
  std::vector<int> dimension_ids;  ///< indexes into NetcdfFile::dimensions()
  std::vector<std::string> dimension_names;
  std::vector<int64_t> shape;  ///< lengths; a record variable's first is the record count
  std::vector<NcAttribute> attributes;
  bool is_record = false;  ///< its first dimension is the unlimited one
  int64_t begin = 0;       ///< file offset of its data (of its first record's slab)
  /// The attribute called `name`, or nullptr.
  const NcAttribute* attribute(const std::string& name) const;
};

/// An open classic-format netCDF file: its header, parsed and checked against the file's size.
/// Data are read on request.
class NetcdfFile {
 public:
  /// Reads and checks the header. Throws dlbench::Error "<path>: <reason>" for a missing or empty
  /// file, a netCDF-4/HDF5 file ("not supported by this reader; convert with nccopy -k classic"),
  /// a bad magic number (naming what the file looks like), an unknown format version, header
  /// fields out of range (negative or absurd counts, unknown type codes, names longer than 256
  /// bytes, dimension ids that do not exist, a record dimension not first), and any variable
  /// whose data would lie beyond the end of the file (a truncated file).
  static NetcdfFile open(const std::string& path);

  const std::string& path() const { return path_; }
  /// 1 (CDF-1 classic), 2 (CDF-2 64-bit offset) or 5 (CDF-5 64-bit data).
  int version() const { return version_; }
  /// Records in the file (the unlimited dimension's length).
  int64_t records() const { return records_; }
  const std::vector<NcDimension>& dimensions() const { return dimensions_; }
  /// Global attributes.
  const std::vector<NcAttribute>& attributes() const { return attributes_; }
  const std::vector<NcVariable>& variables() const { return variables_; }
  /// True when the file has a variable called `name`.
  bool has_variable(const std::string& name) const;
  /// The variable called `name`; throws dlbench::Error listing the variables (and the nearest
  /// name) when there is none.
  const NcVariable& variable(const std::string& name) const;

  /// Reads a variable's values as stored, converted from big-endian, in a CPU tensor of its
  /// shape: float -> float32, double -> float64, byte -> int8, char and ubyte -> uint8, short ->
  /// int16, int -> int32, int64 -> int64; ushort -> int32 and uint -> int64 (widened; LibTorch has
  /// no unsigned 16/32-bit type); uint64 -> int64 (an error for values above 2^63 - 1).
  /// Record variables are gathered from their interleaved records. Throws dlbench::Error naming
  /// the file and variable on a read error.
  torch::Tensor read(const std::string& variable) const;

  /// Reads a variable as numbers a model can use: `read`, then values equal to _FillValue or to
  /// any missing_value become NaN, then value * scale_factor + add_offset where those are
  /// present. float64 when the variable or its scale_factor/add_offset is double, else float32.
  /// Char variables are refused.
  torch::Tensor read_unpacked(const std::string& variable) const;

  /// A one-line-per-item summary: version, records, dimensions, variables with their types,
  /// dimensions and units, global attributes (for `dlbench data` and for reports).
  std::string describe() const;

 private:
  std::string path_;
  int version_ = 1;
  int64_t records_ = 0;
  int64_t file_size_ = 0;
  int64_t record_stride_ = 0;  // bytes from one record to the next
  std::vector<NcDimension> dimensions_;
  std::vector<NcAttribute> attributes_;
  std::vector<NcVariable> variables_;
};

/// Applies a variable's _FillValue / missing_value (to NaN) and scale_factor / add_offset to
/// `raw` (as NetcdfFile::read returns it); used by read_unpacked.
torch::Tensor unpack_variable(const NcVariable& variable, const torch::Tensor& raw);

/// A variable to write: its dimensions by name, its values (any dtype; converted to `type`) and
/// its attributes.
struct NcWriteVariable {
  std::string name;
  NcType type = NcType::kFloat;
  std::vector<std::string> dimensions;
  torch::Tensor data;  ///< shape must match the dimensions (the unlimited one: the record count)
  std::vector<NcAttribute> attributes;
};

/// Writes a CDF-1 (`version` 1), CDF-2 (`version` 2) or CDF-5 (`version` 5) file: dimensions (at
/// most one unlimited; its length is taken from the record variables' data), global attributes and
/// variables of types byte, char, short, int, float and double. Fixed-size variables are written in
/// order, then the records. For generated data and the tests. Throws dlbench::Error naming `path`
/// when the description is inconsistent (unknown dimension, data shape mismatch, a CDF-1 offset
/// above 2^31 - 1) or the file cannot be written.
void write_netcdf_classic(const std::string& path, const std::vector<NcDimension>& dimensions,
                          const std::vector<NcAttribute>& global_attributes,
                          const std::vector<NcWriteVariable>& variables, int version = 1);

}  // namespace dlbench::data
