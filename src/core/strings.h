// Small string, number-parsing and human-readable formatting helpers.
#pragma once

#include <fmt/core.h>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dlbench {

/// Splits on runs of whitespace; no empty tokens.
std::vector<std::string> split_whitespace(const std::string& text);
/// Splits on a separator character; keeps empty tokens.
std::vector<std::string> split(const std::string& text, char separator);
/// Joins with a separator.
std::string join(const std::vector<std::string>& parts, const std::string& separator);
/// The first line of a message, cut to `max_chars` with "..." (c10 errors carry long
/// backtraces after it).
std::string first_line(const std::string& text, size_t max_chars = 400);
/// The longest user text an error message echoes before `printable` cuts it.
constexpr size_t kPrintableMaxBytes = 200;
/// User text made safe to echo in a one-line message: control bytes (newlines and escape
/// sequences included), DEL, C1 controls and bytes that are not UTF-8 become `\xNN`; text longer
/// than `max_bytes` is cut (never inside a UTF-8 sequence) and ends in "... (N bytes)".
std::string printable(const std::string& text, size_t max_bytes = kPrintableMaxBytes);
/// The longest error message printed whole: the CLI prints every message through printable()
/// with this bound, so a message stays one line whatever it carries.
constexpr size_t kMaxMessageBytes = 2000;
/// printable() in single quotes: the usual way an error message names what the user typed.
std::string single_quoted(const std::string& text, size_t max_bytes = kPrintableMaxBytes);
/// Removes leading and trailing whitespace.
std::string trim(const std::string& text);
/// True when `text` starts with `prefix`.
bool starts_with(const std::string& text, const std::string& prefix);
/// Lower-cases ASCII letters.
std::string to_lower(std::string text);

/// Parses an integer, accepting decimal suffixes k/M/G/T (x1000) and binary Ki/Mi/Gi/Ti (x1024)
/// and integral scientific notation (1e6). Returns nullopt on anything else.
std::optional<int64_t> parse_int(const std::string& text);
/// Parses a finite floating-point number (whole string must be consumed; NaN, infinity and
/// out-of-range values such as 1e999 give nullopt).
std::optional<double> parse_double(const std::string& text);
/// Parses a finite duration in seconds: "1.5", "1.5s", "200ms", "2m".
std::optional<double> parse_seconds(const std::string& text);

/// Formats with an SI prefix: 1.23e9 with unit "FLOP/s" -> "1.23 GFLOP/s". 3 significant digits.
std::string format_si(double value, const std::string& unit);
/// Formats a duration: "812 ns", "12.3 us", "4.56 ms", "1.23 s".
std::string format_seconds(double seconds);
/// Formats a byte count with binary prefixes: "1.50 GiB".
std::string format_bytes(double bytes);
/// Formats a number with the shortest round-trip representation (for repro strings and CSV).
std::string format_number(double value);
/// Edit distance, used to suggest the nearest valid name in error messages.
size_t edit_distance(const std::string& a, const std::string& b);
/// The candidate closest to `word` when it is close enough to be a likely typo, else "".
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace dlbench
