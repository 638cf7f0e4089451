// Readers of real data formats (IDX, NetCDF classic, PNG/JPEG and image folders, click logs):
// round trips, hand-built files checked value by value, and truncated, corrupt, wrong-type,
// empty and missing files, each of which must raise one dlbench::Error naming the file and the
// reason. Every file is generated into a temporary folder by the test itself.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/csv.h"
#include "data/idx.h"
#include "data/image.h"
#include "data/netcdf.h"
#include "test_util.h"

namespace dlbench::data {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

void write_bytes(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void append_be(Bytes& bytes, uint64_t value, int size) {
  for (int shift = 8 * (size - 1); shift >= 0; shift -= 8) bytes.push_back((value >> shift) & 0xFF);
}

using testing::expect_error;

// Feeds `read` `count` random corruptions of `good` (a changed byte, a cut, a run of garbage;
// half of them in the first 64 bytes, where the headers are): each must either read or throw
// dlbench::Error; any other exception fails (a crash fails the whole binary).
void expect_no_crash(const Bytes& good, const std::function<void(const Bytes&)>& read, int count,
                     uint64_t seed) {
  std::mt19937_64 random(seed);
  int errors = 0;
  for (int i = 0; i < count; ++i) {
    Bytes bad = good;
    const size_t span = i % 2 == 0 ? std::min<size_t>(64, bad.size()) : bad.size();
    const size_t at = random() % span;
    switch (random() % 3) {
      case 0:
        bad[at] ^= static_cast<uint8_t>(1 + random() % 255);
        break;
      case 1:
        bad.resize(random() % bad.size());
        break;
      default:
        for (size_t k = at; k < std::min(bad.size(), at + 1 + random() % 16); ++k) {
          bad[k] = static_cast<uint8_t>(random());
        }
    }
    try {
      read(bad);
    } catch (const Error&) {
      ++errors;
    } catch (const std::exception& other) {
      ADD_FAILURE() << "corruption " << i << ": not a dlbench::Error: " << other.what();
    }
  }
  EXPECT_GT(errors, count / 10) << "most corruptions should be caught";
}

class ReadersTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::temp_dir(); }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string dir_;
};

Bytes tiny_png() {
  return encode_png(torch::tensor({0, 64, 128, 255}, torch::kUInt8).reshape({2, 2}));
}

// ---------------------------------------------------------------------------------------------
// IDX

using ReadersIdx = ReadersTest;

TEST_F(ReadersIdx, HandBuiltInt32FileIsReadValueByValue) {
  Bytes bytes = {0x00, 0x00, 0x0C, 0x02};  // int32, 2 dimensions
  append_be(bytes, 2, 4);
  append_be(bytes, 3, 4);
  for (int64_t value : {int64_t{1}, int64_t{-2}, int64_t{256}, int64_t{65536}, int64_t{0x7FFFFFFF},
                        int64_t{-2147483648LL}}) {
    append_be(bytes, static_cast<uint32_t>(value), 4);
  }
  write_bytes(path("tiny.idx"), bytes);
  const torch::Tensor t = read_idx(path("tiny.idx"));
  EXPECT_EQ(t.scalar_type(), torch::kInt32);
  EXPECT_EQ(t.sizes().vec(), (std::vector<int64_t>{2, 3}));
  const int32_t* v = t.data_ptr<int32_t>();
  EXPECT_EQ(v[0], 1);
  EXPECT_EQ(v[1], -2);
  EXPECT_EQ(v[2], 256);
  EXPECT_EQ(v[3], 65536);
  EXPECT_EQ(v[4], 2147483647);
  EXPECT_EQ(v[5], -2147483647 - 1);
}

TEST_F(ReadersIdx, RoundTripsEveryTypeRawAndGzip) {
  torch::manual_seed(1);
  const std::vector<torch::Tensor> tensors = {
      torch::randint(0, 256, {5, 4, 3}).to(torch::kUInt8),
      torch::randint(-128, 128, {7}).to(torch::kInt8),
      torch::randint(-30000, 30000, {3, 3}).to(torch::kInt16),
      torch::randint(-100000, 100000, {2, 2, 2, 2}).to(torch::kInt32),
      torch::randn({4, 6}),
      torch::randn({3, 2}, torch::kFloat64),
  };
  for (bool gzip : {false, true}) {
    for (size_t i = 0; i < tensors.size(); ++i) {
      const std::string file = path("t" + std::to_string(i) + (gzip ? ".gz" : ".idx"));
      write_idx(file, tensors[i], gzip);
      const Bytes bytes = read_bytes(file);
      EXPECT_EQ(bytes.size() >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B, gzip);
      const torch::Tensor back = read_idx(file);
      EXPECT_EQ(back.scalar_type(), tensors[i].scalar_type());
      EXPECT_TRUE(back.equal(tensors[i])) << file;
    }
  }
}

TEST_F(ReadersIdx, GzipIsDetectedByContentNotName) {
  const torch::Tensor t = torch::arange(10, torch::kInt16);
  write_idx(path("looks-raw.idx"), t, true);
  write_idx(path("looks-gzipped.gz"), t, false);
  EXPECT_TRUE(read_idx(path("looks-raw.idx")).equal(t));
  EXPECT_TRUE(read_idx(path("looks-gzipped.gz")).equal(t));
}

TEST_F(ReadersIdx, ConcatenatedGzipMembersAreOneStream) {
  write_idx(path("whole.idx"), torch::arange(100, torch::kUInt8).reshape({10, 10}), false);
  const Bytes raw = read_bytes(path("whole.idx"));
  for (int member = 0; member < 2; ++member) {
    gzFile gz = gzopen(path("two.gz").c_str(), member == 0 ? "wb" : "ab");
    ASSERT_NE(gz, nullptr);
    const size_t half = raw.size() / 2;
    const uint8_t* start = raw.data() + (member == 0 ? 0 : half);
    const size_t size = member == 0 ? half : raw.size() - half;
    ASSERT_EQ(gzwrite(gz, start, static_cast<unsigned>(size)), static_cast<int>(size));
    gzclose(gz);
  }
  EXPECT_TRUE(read_idx(path("two.gz")).equal(torch::arange(100, torch::kUInt8).reshape({10, 10})));
}

TEST_F(ReadersIdx, TruncatedAndOverlongFilesAreRejected) {
  write_idx(path("short.idx"), torch::zeros({4, 5}, torch::kFloat32), false);
  Bytes bytes = read_bytes(path("short.idx"));
  bytes.resize(bytes.size() - 10);
  write_bytes(path("short.idx"), bytes);
  expect_error([&] { read_idx(path("short.idx")); },
               {"short.idx", "truncated", "header says 4 x 5 float32 values (80 bytes)",
                "70 bytes of data"});

  bytes.resize(6);  // inside the dimension sizes
  write_bytes(path("header.idx"), bytes);
  expect_error([&] { read_idx(path("header.idx")); }, {"header.idx", "truncated", "2 dimensions"});

  write_idx(path("long.idx"), torch::zeros({3}, torch::kUInt8), false);
  bytes = read_bytes(path("long.idx"));
  bytes.push_back(7);
  write_bytes(path("long.idx"), bytes);
  expect_error([&] { read_idx(path("long.idx")); }, {"long.idx", "trailing bytes"});
}

TEST_F(ReadersIdx, TruncatedAndCorruptGzipAreRejected) {
  torch::manual_seed(2);
  // Random bytes do not compress: deflate stores them, so a flipped byte keeps every length
  // and only the CRC can catch it.
  write_idx(path("data.gz"), torch::randint(0, 256, {64, 64}).to(torch::kUInt8), true);
  const Bytes good = read_bytes(path("data.gz"));

  Bytes cut(good.begin(), good.begin() + good.size() / 2);
  write_bytes(path("cut.gz"), cut);
  expect_error([&] { read_idx(path("cut.gz")); }, {"cut.gz", "truncated gzip file"});

  Bytes no_trailer(good.begin(), good.end() - 4);  // CRC kept, length field cut
  write_bytes(path("trailer.gz"), no_trailer);
  expect_error([&] { read_idx(path("trailer.gz")); }, {"trailer.gz", "truncated gzip"});

  Bytes flipped = good;
  flipped[flipped.size() / 2] ^= 0x5A;
  write_bytes(path("flipped.gz"), flipped);
  expect_error([&] { read_idx(path("flipped.gz")); }, {"flipped.gz", "corrupt gzip data"});

  // Garbage over the start of the deflate data: the IDX header inflates to nonsense, but the
  // broken stream is what gets reported.
  Bytes garbage = good;
  for (size_t i = 10; i < 40; ++i) garbage[i] = static_cast<uint8_t>(i * 37);
  write_bytes(path("garbage.gz"), garbage);
  expect_error([&] { read_idx(path("garbage.gz")); }, {"garbage.gz", "corrupt gzip"});

  // Garbage in the middle of compressible (Huffman-coded) data.
  write_idx(path("zeros.gz"), torch::arange(20000).remainder(7).to(torch::kUInt8), true);
  Bytes zeros = read_bytes(path("zeros.gz"));
  for (size_t i = zeros.size() / 2; i < zeros.size() / 2 + 16; ++i) zeros[i] ^= 0xA5;
  write_bytes(path("zeros.gz"), zeros);
  expect_error([&] { read_idx(path("zeros.gz")); }, {"zeros.gz", "corrupt gzip"});

  Bytes extra = good;
  extra.push_back('x');
  extra.push_back('y');
  write_bytes(path("extra.gz"), extra);
  expect_error([&] { read_idx(path("extra.gz")); }, {"extra.gz", "after the end of the gzip"});
}

TEST_F(ReadersIdx, BadHeadersAreRejectedBeforeAllocating) {
  Bytes bytes = {0x12, 0x34, 0x08, 0x01, 0, 0, 0, 1, 9};
  write_bytes(path("magic.idx"), bytes);
  expect_error([&] { read_idx(path("magic.idx")); }, {"magic.idx", "not an IDX file", "0x12 0x34"});

  bytes = {0, 0, 0x0A, 0x01, 0, 0, 0, 1, 9};
  write_bytes(path("type.idx"), bytes);
  expect_error([&] { read_idx(path("type.idx")); }, {"type.idx", "unknown IDX type code 0x0A"});

  for (uint8_t dims : {uint8_t{0}, uint8_t{9}}) {
    bytes = {0, 0, 0x08, dims, 0, 0, 0, 1};
    write_bytes(path("dims.idx"), bytes);
    expect_error([&] { read_idx(path("dims.idx")); },
                 {"dims.idx", "dimension count " + std::to_string(dims) + " out of range 1..8"});
  }

  // 2^31-1 x 2^31-1 declared in a tiny file: rejected without allocating 4 EiB.
  bytes = {0, 0, 0x08, 0x02, 0x7F, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 1, 2, 3};
  write_bytes(path("huge.idx"), bytes);
  expect_error([&] { read_idx(path("huge.idx")); }, {"huge.idx", "truncated"});
  gzFile gz = gzopen(path("huge.gz").c_str(), "wb");
  gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(gz);
  expect_error([&] { read_idx(path("huge.gz")); }, {"huge.gz", "gzip file can hold"});
}

TEST_F(ReadersIdx, WrongTypeEmptyAndMissingFilesAreRejected) {
  write_bytes(path("image.png"), tiny_png());
  expect_error([&] { read_idx(path("image.png")); },
               {"image.png", "not an IDX file", "looks like a PNG image"});
  testing::write_file(path("notes.txt"), "hello world\n");
  expect_error([&] { read_idx(path("notes.txt")); }, {"notes.txt", "not an IDX file", "text"});
  write_bytes(path("empty.idx"), {});
  expect_error([&] { read_idx(path("empty.idx")); }, {"empty.idx", "empty file"});
  expect_error([&] { read_idx(path("missing.idx")); },
               {"missing.idx", "cannot open", "No such file"});
  expect_error([&] { read_idx(dir_); }, {"is a folder"});
}

TEST_F(ReadersIdx, RandomCorruptionsGiveErrorsNotCrashes) {
  for (bool gzip : {false, true}) {
    write_idx(path("good"), torch::arange(120, torch::kInt16).reshape({2, 6, 10}), gzip);
    expect_no_crash(
        read_bytes(path("good")),
        [&](const Bytes& bytes) {
          write_bytes(path("bad"), bytes);
          read_idx(path("bad"));
        },
        150, gzip ? 11 : 12);
  }
}

TEST_F(ReadersIdx, PairChecksCounts) {
  write_idx(path("images.idx"), torch::zeros({5, 2, 2}, torch::kUInt8), false);
  write_idx(path("labels.idx"), torch::zeros({4}, torch::kUInt8), true);
  expect_error([&] { read_idx_pair(path("images.idx"), path("labels.idx")); },
               {"images.idx", "5 images", "labels.idx", "4 labels"});
  write_idx(path("labels5.idx"), torch::arange(5).to(torch::kUInt8), false);
  const IdxPair pair = read_idx_pair(path("images.idx"), path("labels5.idx"));
  EXPECT_EQ(pair.labels.size(0), 5);
}

// ---------------------------------------------------------------------------------------------
// NetCDF

using ReadersNetcdf = ReadersTest;

// Builds a CDF-1 file by hand, following the specification: dimension x = 3, a global text
// attribute, and a short variable v(x) with a units attribute and values 1, -2, 256.
// `begin_at` receives the offset of the begin field, for tests that corrupt it.
Bytes hand_built_cdf1(size_t* type_at = nullptr, size_t* name_length_at = nullptr) {
  Bytes b = {'C', 'D', 'F', 1};
  append_be(b, 0, 4);   // numrecs
  append_be(b, 10, 4);  // NC_DIMENSION
  append_be(b, 1, 4);
  append_be(b, 1, 4);  // name "x", padded
  b.insert(b.end(), {'x', 0, 0, 0});
  append_be(b, 3, 4);   // length
  append_be(b, 12, 4);  // NC_ATTRIBUTE (global)
  append_be(b, 1, 4);
  append_be(b, 5, 4);
  b.insert(b.end(), {'t', 'i', 't', 'l', 'e', 0, 0, 0});
  append_be(b, 2, 4);  // char
  append_be(b, 2, 4);
  b.insert(b.end(), {'h', 'i', 0, 0});
  append_be(b, 11, 4);  // NC_VARIABLE
  append_be(b, 1, 4);
  if (name_length_at) *name_length_at = b.size();
  append_be(b, 1, 4);
  b.insert(b.end(), {'v', 0, 0, 0});
  append_be(b, 1, 4);   // ndims
  append_be(b, 0, 4);   // dimid
  append_be(b, 12, 4);  // variable attributes
  append_be(b, 1, 4);
  append_be(b, 5, 4);
  b.insert(b.end(), {'u', 'n', 'i', 't', 's', 0, 0, 0});
  append_be(b, 2, 4);
  append_be(b, 1, 4);
  b.insert(b.end(), {'m', 0, 0, 0});
  if (type_at) *type_at = b.size();
  append_be(b, 3, 4);             // short
  append_be(b, 8, 4);             // vsize (6 padded to 8)
  append_be(b, b.size() + 4, 4);  // begin: right after this field
  append_be(b, 1, 2);
  append_be(b, static_cast<uint16_t>(-2), 2);
  append_be(b, 256, 2);
  b.insert(b.end(), {0, 0});
  return b;
}

TEST_F(ReadersNetcdf, HandBuiltFileIsReadValueByValue) {
  write_bytes(path("tiny.nc"), hand_built_cdf1());
  const NetcdfFile file = NetcdfFile::open(path("tiny.nc"));
  EXPECT_EQ(file.version(), 1);
  ASSERT_EQ(file.dimensions().size(), 1u);
  EXPECT_EQ(file.dimensions()[0].name, "x");
  EXPECT_EQ(file.dimensions()[0].length, 3);
  EXPECT_FALSE(file.dimensions()[0].unlimited);
  ASSERT_EQ(file.attributes().size(), 1u);
  EXPECT_EQ(file.attributes()[0].name, "title");
  EXPECT_EQ(file.attributes()[0].text, "hi");
  const NcVariable& v = file.variable("v");
  EXPECT_EQ(v.type, NcType::kShort);
  EXPECT_EQ(v.shape, (std::vector<int64_t>{3}));
  ASSERT_NE(v.attribute("units"), nullptr);
  EXPECT_EQ(v.attribute("units")->text, "m");
  const torch::Tensor data = file.read("v");
  EXPECT_EQ(data.scalar_type(), torch::kInt16);
  EXPECT_EQ(data[0].item<int>(), 1);
  EXPECT_EQ(data[1].item<int>(), -2);
  EXPECT_EQ(data[2].item<int>(), 256);
}

std::vector<NcWriteVariable> sample_variables() {
  torch::manual_seed(3);
  std::vector<NcWriteVariable> variables;
  variables.push_back({"lat",
                       NcType::kFloat,
                       {"lat"},
                       torch::tensor({-10.0f, 0.0f, 10.0f}),
                       {NcAttribute::of_text("units", "degrees_north")}});
  variables.push_back({"lon",
                       NcType::kDouble,
                       {"lon"},
                       torch::tensor({0.0, 90.0, 180.0, 270.0}),
                       {NcAttribute::of_text("units", "degrees_east")}});
  variables.push_back(
      {"mask", NcType::kByte, {"lat", "lon"}, torch::randint(-5, 5, {3, 4}).to(torch::kInt8), {}});
  variables.push_back(
      {"code", NcType::kChar, {"lon"}, torch::tensor({'a', 'b', 'c', 'd'}).to(torch::kUInt8), {}});
  variables.push_back(
      {"depth", NcType::kInt, {"lat"}, torch::tensor({100000, -7, 3}, torch::kInt32), {}});
  variables.push_back({"temp",
                       NcType::kFloat,
                       {"time", "lat", "lon"},
                       torch::randn({5, 3, 4}),
                       {NcAttribute::of_text("units", "K"),
                        NcAttribute::of_numbers("valid_range", NcType::kFloat, {-50, 50})}});
  // A short record variable: 3 x 2 bytes per record, padded to 8 in the record.
  variables.push_back({"count",
                       NcType::kShort,
                       {"time", "lat"},
                       torch::randint(-300, 300, {5, 3}).to(torch::kInt16),
                       {}});
  return variables;
}

TEST_F(ReadersNetcdf, WriterRoundTripsCdf1Cdf2AndCdf5WithInterleavedRecords) {
  const std::vector<NcDimension> dims = {{"time", 0, true}, {"lat", 3, false}, {"lon", 4, false}};
  const std::vector<NcAttribute> globals = {
      NcAttribute::of_text("title", "round trip"),
      NcAttribute::of_numbers("version", NcType::kDouble, {1.5, 2.5})};
  const std::vector<NcWriteVariable> variables = sample_variables();
  for (int version : {1, 2, 5}) {
    const std::string file_path = path("rt" + std::to_string(version) + ".nc");
    write_netcdf_classic(file_path, dims, globals, variables, version);
    EXPECT_EQ(read_bytes(file_path)[3], version);
    const NetcdfFile file = NetcdfFile::open(file_path);
    EXPECT_EQ(file.version(), version);
    EXPECT_EQ(file.records(), 5);
    EXPECT_TRUE(file.dimensions()[0].unlimited);
    EXPECT_EQ(file.dimensions()[0].length, 5);
    EXPECT_EQ(file.attributes()[1].values, (std::vector<double>{1.5, 2.5}));
    for (const NcWriteVariable& variable : variables) {
      const torch::Tensor back = file.read(variable.name);
      EXPECT_TRUE(back.equal(variable.data)) << variable.name << " CDF-" << version;
    }
    EXPECT_TRUE(file.variable("temp").is_record);
    EXPECT_EQ(file.variable("temp").attribute("valid_range")->values,
              (std::vector<double>{-50, 50}));
    EXPECT_NE(file.describe().find("temp(time=5, lat=3, lon=4) units=K [record]"),
              std::string::npos)
        << file.describe();
  }
}

TEST_F(ReadersNetcdf, SingleRecordVariableHasNoPaddingBetweenRecords) {
  const torch::Tensor data = torch::arange(12, torch::kInt16).reshape({4, 3});
  write_netcdf_classic(path("one.nc"), {{"t", 0, true}, {"x", 3, false}}, {},
                       {{"s", NcType::kShort, {"t", "x"}, data, {}}});
  // header + 4 records x 6 bytes, no padding between records.
  const NetcdfFile file = NetcdfFile::open(path("one.nc"));
  const int64_t begin = file.variable("s").begin;
  EXPECT_EQ(static_cast<int64_t>(read_bytes(path("one.nc")).size()), begin + 4 * 6);
  EXPECT_TRUE(file.read("s").equal(data));
}

TEST_F(ReadersNetcdf, UnpackingAppliesScaleOffsetAndFillValues) {
  write_netcdf_classic(path("packed.nc"), {{"x", 4, false}}, {},
                       {{"p",
                         NcType::kShort,
                         {"x"},
                         torch::tensor({1, -1, 4, -9}, torch::kInt16),
                         {NcAttribute::of_numbers("scale_factor", NcType::kFloat, {0.5}),
                          NcAttribute::of_numbers("add_offset", NcType::kFloat, {10}),
                          NcAttribute::of_numbers("_FillValue", NcType::kShort, {-1}),
                          NcAttribute::of_numbers("missing_value", NcType::kShort, {-9})}},
                        {"w",
                         NcType::kFloat,
                         {"x"},
                         torch::tensor({1.0f, -1e34f, 3.0f, 4.0f}),
                         {NcAttribute::of_numbers("missing_value", NcType::kDouble, {-1e34})}},
                        {"d",
                         NcType::kShort,
                         {"x"},
                         torch::tensor({2, 4, 6, 8}, torch::kInt16),
                         {NcAttribute::of_numbers("scale_factor", NcType::kDouble, {0.25})}}});
  const NetcdfFile file = NetcdfFile::open(path("packed.nc"));
  const torch::Tensor p = file.read_unpacked("p");
  EXPECT_EQ(p.scalar_type(), torch::kFloat32);
  EXPECT_FLOAT_EQ(p[0].item<float>(), 10.5f);
  EXPECT_TRUE(std::isnan(p[1].item<float>()));
  EXPECT_FLOAT_EQ(p[2].item<float>(), 12.0f);
  EXPECT_TRUE(std::isnan(p[3].item<float>()));
  const torch::Tensor w = file.read_unpacked("w");  // float variable, double missing_value
  EXPECT_EQ(w.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(std::isnan(w[1].item<float>()));
  EXPECT_FLOAT_EQ(w[3].item<float>(), 4.0f);
  const torch::Tensor d = file.read_unpacked("d");  // double scale_factor: float64
  EXPECT_EQ(d.scalar_type(), torch::kFloat64);
  EXPECT_DOUBLE_EQ(d[3].item<double>(), 2.0);
}

TEST_F(ReadersNetcdf, TruncatedFilesAreRejectedAtOpen) {
  const std::vector<NcDimension> dims = {{"time", 0, true}, {"lat", 3, false}, {"lon", 4, false}};
  write_netcdf_classic(path("full.nc"), dims, {}, sample_variables(), 1);
  const Bytes good = read_bytes(path("full.nc"));
  Bytes cut(good.begin(), good.end() - 20);  // inside the last record
  write_bytes(path("cut.nc"), cut);
  expect_error([&] { NetcdfFile::open(path("cut.nc")); },
               {"cut.nc", "truncated", "variable '", "5 records"});
  Bytes header_only(good.begin(), good.begin() + 40);
  write_bytes(path("head.nc"), header_only);
  expect_error([&] { NetcdfFile::open(path("head.nc")); }, {"head.nc", "truncated header"});
}

TEST_F(ReadersNetcdf, CorruptHeadersAreRejected) {
  Bytes bytes = hand_built_cdf1();
  bytes[0] = 'X';
  write_bytes(path("magic.nc"), bytes);
  expect_error([&] { NetcdfFile::open(path("magic.nc")); },
               {"magic.nc", "not a netCDF file", "'CDF' magic"});

  bytes = hand_built_cdf1();
  bytes[3] = 3;
  write_bytes(path("version.nc"), bytes);
  expect_error([&] { NetcdfFile::open(path("version.nc")); },
               {"version.nc", "unknown netCDF classic version byte 0x03"});

  size_t type_at = 0, name_at = 0;
  bytes = hand_built_cdf1(&type_at, &name_at);
  bytes[type_at + 3] = 42;
  write_bytes(path("type.nc"), bytes);
  expect_error([&] { NetcdfFile::open(path("type.nc")); },
               {"type.nc", "variable 'v' has unknown type code 42"});

  bytes = hand_built_cdf1();
  bytes[type_at + 3] = 8;  // ushort: CDF-5 only
  write_bytes(path("cdf5type.nc"), bytes);
  expect_error([&] { NetcdfFile::open(path("cdf5type.nc")); }, {"cdf5type.nc", "type code 8"});

  bytes = hand_built_cdf1();
  bytes[name_at + 2] = 0x01;  // name length 256 + 1 = 257
  bytes[name_at + 3] = 0x01;
  write_bytes(path("name.nc"), bytes);
  expect_error([&] { NetcdfFile::open(path("name.nc")); },
               {"name.nc", "name is 257 bytes long", "256-byte limit"});

  bytes = hand_built_cdf1();
  bytes[12] = 0x7F;  // dimension count 0x7F000001
  write_bytes(path("count.nc"), bytes);
  expect_error([&] { NetcdfFile::open(path("count.nc")); },
               {"count.nc", "dimension count is 2130706433", "more than the"});

  bytes = hand_built_cdf1();
  bytes[8 + 3] = 0x0B;  // the dimension list tag becomes the variable tag
  write_bytes(path("tag.nc"), bytes);
  expect_error([&] { NetcdfFile::open(path("tag.nc")); },
               {"tag.nc", "expected the dimension list", "0xB"});

  bytes = hand_built_cdf1();
  bytes[bytes.size() - 12] = 0x40;  // begin (last header field) far beyond the file
  write_bytes(path("begin.nc"), bytes);
  expect_error([&] { NetcdfFile::open(path("begin.nc")); },
               {"begin.nc", "truncated", "variable 'v'"});

  bytes = hand_built_cdf1();
  bytes[bytes.size() - 9] = 0x10;  // begin points into the header
  write_bytes(path("inside.nc"), bytes);
  expect_error([&] { NetcdfFile::open(path("inside.nc")); },
               {"inside.nc", "variable 'v' data offset 16 lies inside the header"});

  bytes = hand_built_cdf1();
  for (size_t i = 40; i < 60; ++i) bytes[i] = 0xEE;  // garbage over the global attribute
  write_bytes(path("garbage.nc"), bytes);
  expect_error([&] { NetcdfFile::open(path("garbage.nc")); }, {"garbage.nc", "corrupt header"});
}

TEST_F(ReadersNetcdf, RandomCorruptionsGiveErrorsNotCrashes) {
  const std::vector<NcDimension> dims = {{"time", 0, true}, {"lat", 3, false}, {"lon", 4, false}};
  for (int version : {1, 5}) {
    write_netcdf_classic(path("good.nc"), dims, {NcAttribute::of_text("title", "fuzz")},
                         sample_variables(), version);
    expect_no_crash(
        read_bytes(path("good.nc")),
        [&](const Bytes& bytes) {
          write_bytes(path("bad.nc"), bytes);
          const NetcdfFile file = NetcdfFile::open(path("bad.nc"));
          for (const NcVariable& variable : file.variables()) {
            file.read(variable.name);
            if (variable.type != NcType::kChar) file.read_unpacked(variable.name);
          }
          file.describe();
        },
        200, 20 + version);
  }
}

TEST_F(ReadersNetcdf, WrongTypeEmptyMissingAndHdf5FilesAreRejected) {
  Bytes hdf5 = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1A, '\n', 0, 0, 0, 0};
  write_bytes(path("nc4.nc"), hdf5);
  expect_error([&] { NetcdfFile::open(path("nc4.nc")); },
               {"nc4.nc", "netCDF-4/HDF5 files are not supported by this reader",
                "convert with nccopy -k classic"});
  testing::write_file(path("notes.nc"), "lat,lon\n1,2\n");
  expect_error([&] { NetcdfFile::open(path("notes.nc")); },
               {"notes.nc", "not a netCDF file", "looks like text"});
  write_bytes(path("image.nc"), tiny_png());
  expect_error([&] { NetcdfFile::open(path("image.nc")); }, {"image.nc", "PNG image"});
  write_bytes(path("empty.nc"), {});
  expect_error([&] { NetcdfFile::open(path("empty.nc")); }, {"empty.nc", "empty file"});
  expect_error([&] { NetcdfFile::open(path("missing.nc")); }, {"missing.nc", "cannot open"});
  write_bytes(path("tiny.nc"), hand_built_cdf1());
  const NetcdfFile file = NetcdfFile::open(path("tiny.nc"));
  expect_error([&] { file.read("w"); }, {"tiny.nc", "no variable 'w'", "variables: v"});
}

// ---------------------------------------------------------------------------------------------
// Images

using ReadersImage = ReadersTest;

// A PNG assembled chunk by chunk (signature, IHDR, optional extra chunk, IDAT, IEND) from
// unfiltered rows, independent of the encoder under test.
Bytes make_png(uint32_t width, uint32_t height, int bit_depth, int color_type,
               const std::vector<Bytes>& rows, const std::string& extra_type = "",
               const Bytes& extra = {}) {
  Bytes out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  auto chunk = [&](const std::string& type, const Bytes& data) {
    append_be(out, data.size(), 4);
    Bytes typed(type.begin(), type.end());
    typed.insert(typed.end(), data.begin(), data.end());
    out.insert(out.end(), typed.begin(), typed.end());
    append_be(out, crc32(0, typed.data(), static_cast<uInt>(typed.size())), 4);
  };
  Bytes header;
  append_be(header, width, 4);
  append_be(header, height, 4);
  header.insert(header.end(),
                {static_cast<uint8_t>(bit_depth), static_cast<uint8_t>(color_type), 0, 0, 0});
  chunk("IHDR", header);
  if (!extra_type.empty()) chunk(extra_type, extra);
  Bytes raw;
  for (const Bytes& row : rows) {
    raw.push_back(0);  // filter: none
    raw.insert(raw.end(), row.begin(), row.end());
  }
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  Bytes compressed(size);
  compress(compressed.data(), &size, raw.data(), static_cast<uLong>(raw.size()));
  compressed.resize(size);
  chunk("IDAT", compressed);
  chunk("IEND", {});
  return out;
}

TEST_F(ReadersImage, HandBuiltPngsDecodeToKnownPixels) {
  // 2x2 grey: 0, 64 / 128, 255.
  torch::Tensor grey = decode_png(make_png(2, 2, 8, 0, {{0, 64}, {128, 255}}), "grey.png");
  EXPECT_EQ(grey.sizes().vec(), (std::vector<int64_t>{2, 2, 1}));
  EXPECT_EQ(grey.scalar_type(), torch::kUInt8);
  EXPECT_TRUE(grey.flatten().equal(torch::tensor({0, 64, 128, 255}, torch::kUInt8)));
  // 2x2 RGB.
  torch::Tensor rgb = decode_png(
      make_png(2, 2, 8, 2, {{255, 0, 0, 0, 255, 0}, {0, 0, 255, 10, 20, 30}}), "rgb.png");
  EXPECT_EQ(rgb.sizes().vec(), (std::vector<int64_t>{2, 2, 3}));
  EXPECT_TRUE(rgb.flatten().equal(
      torch::tensor({255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30}, torch::kUInt8)));
  // Palette -> RGB.
  torch::Tensor palette =
      decode_png(make_png(2, 1, 8, 3, {{1, 0}}, "PLTE", {1, 2, 3, 200, 100, 50}), "palette.png");
  EXPECT_TRUE(palette.flatten().equal(torch::tensor({200, 100, 50, 1, 2, 3}, torch::kUInt8)));
  // 16-bit grey keeps the high byte; grey + alpha drops the alpha.
  torch::Tensor deep = decode_png(make_png(2, 1, 16, 0, {{0x12, 0x34, 0xFE, 0xDC}}), "16.png");
  EXPECT_TRUE(deep.flatten().equal(torch::tensor({0x12, 0xFE}, torch::kUInt8)));
  torch::Tensor alpha = decode_png(make_png(2, 1, 8, 4, {{7, 255, 9, 0}}), "alpha.png");
  EXPECT_EQ(alpha.sizes().vec(), (std::vector<int64_t>{1, 2, 1}));
  EXPECT_TRUE(alpha.flatten().equal(torch::tensor({7, 9}, torch::kUInt8)));
  // 1-bit grey expands to 0 / 255.
  torch::Tensor bits = decode_png(make_png(2, 1, 1, 0, {{0x40}}), "bits.png");
  EXPECT_TRUE(bits.flatten().equal(torch::tensor({0, 255}, torch::kUInt8)));
}

TEST_F(ReadersImage, PngAndJpegRoundTrip) {
  torch::manual_seed(4);
  const torch::Tensor rgb = torch::randint(0, 256, {5, 7, 3}).to(torch::kUInt8);
  EXPECT_TRUE(decode_png(encode_png(rgb), "x.png").equal(rgb));
  const torch::Tensor grey = torch::randint(0, 256, {4, 3}).to(torch::kUInt8);
  EXPECT_TRUE(decode_image(encode_png(grey), "x.png").equal(grey.unsqueeze(2)));
  // JPEG is lossy: a smooth image comes back close.
  const torch::Tensor ramp =
      (torch::arange(32).view({1, 32, 1}) * 4 + torch::arange(16).view({16, 1, 1}) * 2)
          .expand({16, 32, 3})
          .to(torch::kUInt8)
          .contiguous();
  const Bytes jpeg = encode_jpeg(ramp, 95);
  const torch::Tensor back = decode_image(jpeg, "x.jpg");
  EXPECT_EQ(back.sizes().vec(), (std::vector<int64_t>{16, 32, 3}));
  EXPECT_LT((back.to(torch::kInt32) - ramp.to(torch::kInt32)).abs().max().item<int>(), 12);
  const torch::Tensor grey_back = decode_jpeg(encode_jpeg(ramp.select(2, 0), 95), "g.jpg");
  EXPECT_EQ(grey_back.sizes().vec(), (std::vector<int64_t>{16, 32, 1}));
}

TEST_F(ReadersImage, TruncatedCorruptAndWrongTypeImagesAreRejected) {
  const Bytes png = make_png(2, 2, 8, 0, {{0, 64}, {128, 255}});
  Bytes cut(png.begin(), png.begin() + png.size() - 20);
  expect_error([&] { decode_png(cut, "cut.png"); }, {"cut.png", "PNG", "truncated"});
  Bytes bad_crc = png;
  bad_crc[16] ^= 0x01;  // inside IHDR: its CRC no longer matches
  expect_error([&] { decode_png(bad_crc, "crc.png"); }, {"crc.png", "PNG: IHDR: CRC error"});
  expect_error(
      [&] {
        decode_png({'h', 'e', 'l', 'l', 'o'}, "text.png");
      },
      {"text.png", "not a PNG image", "text"});
  expect_error([&] { decode_png({}, "empty.png"); }, {"empty.png", "an empty file"});

  const torch::Tensor ramp =
      torch::arange(64 * 64 * 3).remainder(251).to(torch::kUInt8).reshape({64, 64, 3});
  const Bytes jpeg = encode_jpeg(ramp, 90);
  Bytes jcut(jpeg.begin(), jpeg.begin() + jpeg.size() / 2);
  expect_error([&] { decode_jpeg(jcut, "cut.jpg"); }, {"cut.jpg", "JPEG: Premature end"});
  Bytes jbad = jpeg;
  for (size_t i = jpeg.size() / 2; i < jpeg.size() / 2 + 8; ++i) jbad[i] = 0xFF;
  jbad[jpeg.size() / 2 + 8] = 0x01;  // an invalid marker in the entropy-coded data
  expect_error([&] { decode_jpeg(jbad, "bad.jpg"); }, {"bad.jpg", "JPEG: "});
  Bytes jheader = jpeg;
  jheader[3] = 0x01;  // the first marker after SOI is no longer a marker segment
  expect_error([&] { decode_jpeg(jheader, "header.jpg"); }, {"header.jpg", "JPEG: "});
  expect_error([&] { decode_jpeg(png, "png.jpg"); }, {"png.jpg", "not a JPEG image", "PNG image"});
  expect_error(
      [&] {
        decode_image({0, 0, 8, 1, 0, 0, 0, 1, 5}, "what.bin");
      },
      {"what.bin", "not a PNG or JPEG image", "IDX file"});
}

TEST_F(ReadersImage, RandomCorruptionsGiveErrorsNotCrashes) {
  torch::manual_seed(6);
  const torch::Tensor image = torch::randint(0, 256, {24, 20, 3}).to(torch::kUInt8);
  const auto decode = [](const Bytes& bytes) { decode_image(bytes, "fuzz"); };
  expect_no_crash(encode_png(image), decode, 300, 31);
  expect_no_crash(encode_jpeg(image, 80), decode, 300, 32);
  expect_no_crash(make_png(2, 1, 8, 3, {{1, 0}}, "PLTE", {1, 2, 3, 200, 100, 50}), decode, 200, 33);
}

TEST_F(ReadersImage, FolderListsClassesAndLoadsOnDemand) {
  fs::create_directories(path("set/dog"));
  fs::create_directories(path("set/cat"));
  const torch::Tensor grey = torch::full({3, 3}, 50, torch::kUInt8);
  const torch::Tensor rgb = torch::full({3, 3, 3}, 90, torch::kUInt8);
  write_bytes(path("set/dog/b.png"), encode_png(grey));
  write_bytes(path("set/dog/a.JPG"), encode_jpeg(rgb, 95));
  write_bytes(path("set/cat/z.jpeg"), encode_jpeg(grey, 95));
  write_bytes(path("set/cat/.hidden"), {1, 2, 3});
  const ImageFolder folder = read_image_folder(path("set"), {3, 3, 3});
  EXPECT_EQ(folder.classes(), (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(folder.size(), 3);
  EXPECT_EQ(folder.labels(), (std::vector<int64_t>{0, 1, 1}));
  EXPECT_EQ(fs::path(folder.files()[1]).filename(), "a.JPG");
  for (int64_t i = 0; i < folder.size(); ++i) {
    EXPECT_EQ(folder.load(i).sizes().vec(), (std::vector<int64_t>{3, 3, 3})) << i;
  }
  EXPECT_EQ(folder.load(2)[1][1][2].item<int>(), 50);  // grey replicated to RGB
  const ImageFolder as_grey = read_image_folder(path("set"), {0, 0, 1});
  EXPECT_EQ(as_grey.load(1).size(2), 1);
  EXPECT_NEAR(as_grey.load(1)[0][0][0].item<int>(), 90, 3);
}

TEST_F(ReadersImage, FolderProblemsNameTheFile) {
  expect_error([&] { read_image_folder(path("none")); }, {"none", "no such folder"});
  fs::create_directories(path("empty"));
  expect_error([&] { read_image_folder(path("empty")); }, {"empty", "no class sub-folders"});
  fs::create_directories(path("noimages/a"));
  expect_error([&] { read_image_folder(path("noimages")); }, {"noimages/a", "has no images"});
  fs::create_directories(path("mixed/a"));
  write_bytes(path("mixed/a/1.png"), tiny_png());
  testing::write_file(path("mixed/a/readme.txt"), "not an image");
  expect_error([&] { read_image_folder(path("mixed")); },
               {"mixed/a/readme.txt", "not an image file"});

  fs::create_directories(path("bad/a"));
  write_bytes(path("bad/a/1.png"), encode_jpeg(torch::zeros({2, 2}, torch::kUInt8), 90));
  const Bytes png = encode_png(torch::zeros({4, 4}, torch::kUInt8));
  write_bytes(path("bad/a/2.png"), Bytes(png.begin(), png.begin() + png.size() - 16));
  write_bytes(path("bad/a/3.png"), tiny_png());
  testing::write_file(path("bad/a/4.jpg"), "plain text");
  const ImageFolder folder = read_image_folder(path("bad"), {4, 4, 0});
  expect_error([&] { folder.load(0); },
               {"bad/a/1.png", "the content is a JPEG image, not the PNG image"});
  expect_error([&] { folder.load(1); }, {"bad/a/2.png", "PNG", "truncated"});
  expect_error([&] { folder.load(2); }, {"bad/a/3.png", "image is 2x2", "requires 4x4"});
  expect_error([&] { folder.load(3); }, {"bad/a/4.jpg", "the content is text"});
  expect_error([&] { folder.load(4); }, {"out of range"});
}

// ---------------------------------------------------------------------------------------------
// Click logs

using ReadersCsv = ReadersTest;

std::string criteo_line(const std::string& label, char d = '\t') {
  std::string line = label;
  const char* dense[13] = {"1", "", "5", "-3", "0", "10", "", "", "2", "", "", "7", "100"};
  for (const char* value : dense) line += d + std::string(value);
  for (int i = 0; i < 26; ++i) {
    line += d;
    if (i == 0) line += "68fd1e64";
    if (i == 1) line += "FFFFFFFF";
    if (i == 3) line += "0";
    if (i == 25) line += "a";
  }
  return line;
}

TEST_F(ReadersCsv, CriteoLineIsParsedFieldByField) {
  testing::write_file(path("day.tsv"), criteo_line("1") + "\n" + criteo_line("0") + "\n");
  ClickLogFormat raw;
  raw.log_transform = false;
  const ClickLog log = read_click_log(path("day.tsv"), raw);
  ASSERT_EQ(log.size(), 2);
  EXPECT_EQ(log.labels[0].item<float>(), 1.0f);
  EXPECT_EQ(log.labels[1].item<float>(), 0.0f);
  ASSERT_EQ(log.dense.sizes().vec(), (std::vector<int64_t>{2, 13}));
  const std::vector<float> expected = {1, 0, 5, -3, 0, 10, 0, 0, 2, 0, 0, 7, 100};
  for (int i = 0; i < 13; ++i) EXPECT_EQ(log.dense[0][i].item<float>(), expected[i]) << i;
  ASSERT_EQ(log.sparse.sizes().vec(), (std::vector<int64_t>{2, 26}));
  EXPECT_EQ(log.sparse[0][0].item<int64_t>(), 0x68fd1e64);
  EXPECT_EQ(log.sparse[0][1].item<int64_t>(), 0xFFFFFFFFLL);
  EXPECT_EQ(log.sparse[0][2].item<int64_t>(), 0);  // missing
  EXPECT_EQ(log.sparse[0][25].item<int64_t>(), 10);
  const ClickLog logged = read_click_log(path("day.tsv"));  // DLRM's log(1 + max(x, 0))
  EXPECT_FLOAT_EQ(logged.dense[0][0].item<float>(), std::log(2.0f));
  EXPECT_FLOAT_EQ(logged.dense[0][3].item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(logged.dense[0][12].item<float>(), std::log(101.0f));
}

TEST_F(ReadersCsv, RoundTripsWithHeadersCrlfAndCustomCounts) {
  torch::manual_seed(5);
  ClickLog log;
  log.labels = torch::randint(0, 2, {20}).to(torch::kFloat32);
  log.dense = torch::randint(-2, 1000, {20, 3}).to(torch::kFloat32);
  log.sparse = torch::randint(0, int64_t{1} << 40, {20, 2});
  ClickLogFormat format;
  format.dense = 3;
  format.sparse = 2;
  format.log_transform = false;
  write_click_log(path("log.csv"), log, ',');
  const ClickLog back = read_click_log(path("log.csv"), format);  // comma by extension
  EXPECT_TRUE(back.labels.equal(log.labels));
  EXPECT_TRUE(back.dense.equal(log.dense));
  EXPECT_TRUE(back.sparse.equal(log.sparse));

  testing::write_file(path("h.tsv"), "label\ti1\tc1\r\n1\t5\tff\r\n\r\n0\t\t\r\n");
  format.dense = 1;
  format.sparse = 1;
  format.header = true;
  const ClickLog small = read_click_log(path("h.tsv"), format);
  ASSERT_EQ(small.size(), 2);
  EXPECT_EQ(small.sparse[0][0].item<int64_t>(), 255);
  EXPECT_EQ(small.dense[1][0].item<float>(), 0.0f);

  ClickLog missing = small;
  missing.dense = torch::tensor({{NAN}, {3.0f}});
  write_click_log(path("nan.tsv"), missing);
  format.header = false;
  EXPECT_EQ(read_click_log(path("nan.tsv"), format).dense[0][0].item<float>(), 0.0f);
}

TEST_F(ReadersCsv, BadLinesNameTheFileAndLine) {
  const std::string good = criteo_line("1") + "\n";
  testing::write_file(path("fields.tsv"), good + good + criteo_line("0").substr(2) + "\n");
  expect_error([&] { read_click_log(path("fields.tsv")); },
               {"fields.tsv:3:", "39 fields, expected 40", "label, 13 dense, 26 sparse"});

  std::string bad_dense = criteo_line("1");
  bad_dense.replace(bad_dense.find("\t5\t"), 3, "\tfive\t");
  testing::write_file(path("dense.tsv"), good + bad_dense + "\n");
  expect_error([&] { read_click_log(path("dense.tsv")); },
               {"dense.tsv:2:", "field 4 (dense feature 3) is 'five', not an integer"});

  testing::write_file(path("label.tsv"), criteo_line("2") + "\n");
  expect_error([&] { read_click_log(path("label.tsv")); },
               {"label.tsv:1:", "label) is '2', expected 0 or 1"});
  try {
    read_click_log(path("label.tsv"));
  } catch (const Error& error) {
    EXPECT_EQ(std::string(error.what()).find("header"), std::string::npos) << error.what();
  }

  std::string header = "label";
  for (int i = 1; i < 40; ++i) header += "\tf" + std::to_string(i);
  testing::write_file(path("header.tsv"), header + "\n" + good);
  expect_error([&] { read_click_log(path("header.tsv")); },
               {"header.tsv:1:", "is the first line a header? set header=true"});

  std::string bad_hex = criteo_line("0");
  bad_hex.replace(bad_hex.find("68fd1e64"), 8, "68fd1g64");
  testing::write_file(path("hex.tsv"), good + bad_hex + "\n");
  expect_error([&] { read_click_log(path("hex.tsv")); },
               {"hex.tsv:2:", "field 15 (sparse feature 1) is '68fd1g64'", "hexadecimal"});

  const std::string last = criteo_line("1");
  testing::write_file(path("cut.tsv"), good + last.substr(0, last.size() / 2));
  expect_error([&] { read_click_log(path("cut.tsv")); },
               {"cut.tsv:2:", "last line cut short", "no final newline"});
  testing::write_file(path("nonl.tsv"), good + last);  // complete last line, no newline: fine
  EXPECT_EQ(read_click_log(path("nonl.tsv")).size(), 2);

  testing::write_file(path("comma.tsv"), criteo_line("1", ',') + "\n");
  expect_error([&] { read_click_log(path("comma.tsv")); },
               {"comma.tsv:1:", "1 fields", "wrong delimiter"});
}

TEST_F(ReadersCsv, RandomCorruptionsGiveErrorsNotCrashes) {
  const std::string line = criteo_line("1") + "\n";
  const std::string text = line + line + line;
  expect_no_crash(
      Bytes(text.begin(), text.end()),
      [&](const Bytes& bytes) {
        write_bytes(path("bad.tsv"), bytes);
        read_click_log(path("bad.tsv"));
      },
      150, 41);
}

TEST_F(ReadersCsv, WrongTypeEmptyAndMissingFilesAreRejected) {
  write_bytes(path("image.tsv"), tiny_png());
  expect_error([&] { read_click_log(path("image.tsv")); },
               {"image.tsv", "not a text click log", "PNG image"});
  write_bytes(path("empty.tsv"), {});
  expect_error([&] { read_click_log(path("empty.tsv")); }, {"empty.tsv", "empty file"});
  testing::write_file(path("blank.tsv"), "\n\n");
  expect_error([&] { read_click_log(path("blank.tsv")); }, {"blank.tsv", "no samples"});
  expect_error([&] { read_click_log(path("missing.tsv")); }, {"missing.tsv", "cannot open"});
}

}  // namespace
}  // namespace dlbench::data
