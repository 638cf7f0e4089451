// Number parsing and human-readable formatting.
#include <gtest/gtest.h>

#include "core/strings.h"

namespace dlbench {
namespace {

TEST(Strings, ParseIntSuffixes) {
  EXPECT_EQ(parse_int("1024"), 1024);
  EXPECT_EQ(parse_int("1Ki"), 1024);
  EXPECT_EQ(parse_int("32Mi"), 33554432);
  EXPECT_EQ(parse_int("2Gi"), int64_t{2} << 30);
  EXPECT_EQ(parse_int("4k"), 4000);
  EXPECT_EQ(parse_int("1M"), 1000000);
  EXPECT_EQ(parse_int("1e6"), 1000000);
  EXPECT_EQ(parse_int("-3"), -3);
  EXPECT_FALSE(parse_int("1.5"));
  EXPECT_FALSE(parse_int("abc"));
  EXPECT_FALSE(parse_int(""));
  EXPECT_FALSE(parse_int("12x"));
  EXPECT_FALSE(parse_int(" 12"));
}

TEST(Strings, FirstLineDropsTheBacktraceAndCutsLongLines) {
  EXPECT_EQ(first_line("Connection closed by peer\nframe #0: ...\nframe #1: ..."),
            "Connection closed by peer");
  EXPECT_EQ(first_line("one line"), "one line");
  EXPECT_EQ(first_line(""), "");
  EXPECT_EQ(first_line("abcdef", 3), "abc...");
  EXPECT_EQ(first_line(std::string(400, 'x')), std::string(400, 'x'));
  EXPECT_EQ(first_line(std::string(401, 'x')).size(), 403u);
}

TEST(Strings, ParseSeconds) {
  EXPECT_DOUBLE_EQ(*parse_seconds("1.5"), 1.5);
  EXPECT_DOUBLE_EQ(*parse_seconds("2s"), 2.0);
  EXPECT_DOUBLE_EQ(*parse_seconds("250ms"), 0.25);
  EXPECT_DOUBLE_EQ(*parse_seconds("2m"), 120.0);
  EXPECT_FALSE(parse_seconds("fast"));
}

TEST(Strings, FormatSi) {
  EXPECT_EQ(format_si(1.234e9, "FLOP/s"), "1.23 GFLOP/s");
  EXPECT_EQ(format_si(98.76e12, "FLOP/s"), "98.8 TFLOP/s");
  EXPECT_EQ(format_si(512, "B/s"), "512 B/s");
  EXPECT_EQ(format_si(0.5, "x"), "0.50 x");
}

TEST(Strings, FormatSecondsAndBytes) {
  EXPECT_EQ(format_seconds(0.0123), "12.3 ms");
  EXPECT_EQ(format_seconds(2.5), "2.50 s");
  EXPECT_EQ(format_seconds(4.2e-6), "4.20 us");
  EXPECT_EQ(format_bytes(1536), "1.50 KiB");
  EXPECT_EQ(format_bytes(3.0 * (1 << 30)), "3.00 GiB");
  EXPECT_EQ(format_bytes(100), "100 B");
}

TEST(Strings, FormatNumberRoundTrips) {
  EXPECT_EQ(format_number(1024), "1024");
  EXPECT_EQ(format_number(0.1), "0.1");
  EXPECT_EQ(format_number(2.5e-7), "2.5e-07");
}

TEST(Strings, NearestSuggestsTypos) {
  EXPECT_EQ(nearest("micro/gem", {"micro/gemm", "micro/stream"}), "micro/gemm");
  EXPECT_EQ(nearest("totally/else", {"micro/gemm", "micro/stream"}), "");
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

}  // namespace
}  // namespace dlbench
