#include "core/strings.h"

#include <fmt/core.h>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace dlbench {

std::vector<std::string> split_whitespace(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string token;
  while (in >> token) out.push_back(token);
  return out;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> out;
  std::string current;
  for (char c : text) {
    if (c == separator) {
      out.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  out.push_back(current);
  return out;
}

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += separator;
    out += parts[i];
  }
  return out;
}

std::string first_line(const std::string& text, size_t max_chars) {
  std::string line = text.substr(0, text.find('\n'));
  return line.size() > max_chars ? line.substr(0, max_chars) + "..." : line;
}

namespace {

/// The length of the UTF-8 sequence starting at `text[i]` when it is a valid one that encodes a
/// printable character (not a C1 control, U+0080..U+009F); 0 otherwise.
size_t printable_utf8_length(const std::string& text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t length = 0;
  uint32_t code = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code = (code << 6) | (byte(i + k) & 0x3F);
  }
  const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < smallest[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  if (code <= 0x9F) return 0;  // C1 controls (CSI and friends)
  return length;
}

}  // namespace

std::string printable(const std::string& text, size_t max_bytes) {
  size_t end = text.size();
  if (end > max_bytes) {
    end = max_bytes;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  }
  std::string out;
  out.reserve(end + 16);
  for (size_t i = 0; i < end;) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    size_t length = c >= 0x80 ? printable_utf8_length(text, i) : 0;
    if (length > 0 && i + length <= end) {
      out.append(text, i, length);
      i += length;
    } else {
      out += fmt::format("\\x{:02X}", c);
      ++i;
    }
  }
  if (end < text.size()) out += fmt::format("... ({} bytes)", text.size());
  return out;
}

std::string single_quoted(const std::string& text, size_t max_bytes) {
  return "'" + printable(text, max_bytes) + "'";
}

std::string trim(const std::string& text) {
  size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return text.substr(begin, end - begin);
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.size() >= prefix.size() && text.compare(0, prefix.size(), prefix) == 0;
}

std::string to_lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::optional<double> parse_double(const std::string& text) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  double value = std::strtod(text.c_str(), &end);
  if (errno != 0 || end != text.c_str() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<int64_t> parse_int(const std::string& text) {
  struct Suffix {
    const char* text;
    double factor;
  };
  static const Suffix kSuffixes[] = {
      {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
      {"k", 1e3},     {"K", 1e3},        {"M", 1e6},           {"G", 1e9},
      {"T", 1e12}};
  std::string number = text;
  double factor = 1.0;
  for (const auto& suffix : kSuffixes) {
    std::string s = suffix.text;
    if (number.size() > s.size() && number.compare(number.size() - s.size(), s.size(), s) == 0) {
      number = number.substr(0, number.size() - s.size());
      factor = suffix.factor;
      break;
    }
  }
  auto value = parse_double(number);
  if (!value) return std::nullopt;
  double scaled = *value * factor;
  if (scaled != std::floor(scaled) || std::fabs(scaled) > 9.0e18) return std::nullopt;
  return static_cast<int64_t>(scaled);
}

std::optional<double> parse_seconds(const std::string& text) {
  struct Unit {
    const char* text;
    double factor;
  };
  static const Unit kUnits[] = {{"ms", 1e-3}, {"us", 1e-6}, {"s", 1.0}, {"m", 60.0}, {"h", 3600.0}};
  for (const auto& unit : kUnits) {
    std::string u = unit.text;
    if (text.size() > u.size() && text.compare(text.size() - u.size(), u.size(), u) == 0) {
      auto value = parse_double(text.substr(0, text.size() - u.size()));
      if (!value || !std::isfinite(*value * unit.factor)) return std::nullopt;
      return *value * unit.factor;
    }
  }
  return parse_double(text);
}

namespace {
std::string three_significant(double value) {
  double magnitude = std::fabs(value);
  if (magnitude >= 100) return fmt::format("{:.0f}", value);
  if (magnitude >= 10) return fmt::format("{:.1f}", value);
  return fmt::format("{:.2f}", value);
}
}  // namespace

std::string format_si(double value, const std::string& unit) {
  if (!std::isfinite(value)) return "n/a";
  static const struct {
    double factor;
    const char* prefix;
  } kPrefixes[] = {{1e15, "P"}, {1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}, {1, ""}};
  for (const auto& p : kPrefixes) {
    if (std::fabs(value) >= p.factor * 0.9995) {
      return three_significant(value / p.factor) + " " + p.prefix + unit;
    }
  }
  return three_significant(value) + " " + unit;
}

std::string format_seconds(double seconds) {
  if (!std::isfinite(seconds)) return "n/a";
  double magnitude = std::fabs(seconds);
  if (magnitude >= 0.9995) return three_significant(seconds) + " s";
  if (magnitude >= 0.9995e-3) return three_significant(seconds * 1e3) + " ms";
  if (magnitude >= 0.9995e-6) return three_significant(seconds * 1e6) + " us";
  return three_significant(seconds * 1e9) + " ns";
}

std::string format_bytes(double bytes) {
  if (!std::isfinite(bytes)) return "n/a";
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (std::fabs(bytes) >= 1024.0 && unit < 4) {
    bytes /= 1024.0;
    ++unit;
  }
  return unit == 0 ? fmt::format("{:.0f} B", bytes) : three_significant(bytes) + " " + kUnits[unit];
}

std::string format_number(double value) {
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return fmt::format("{}", static_cast<long long>(value));
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::string text = fmt::format("{:.{}g}", value, precision);
    if (std::strtod(text.c_str(), nullptr) == value) return text;
  }
  return fmt::format("{:.17g}", value);
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& candidate : candidates) {
    size_t d = edit_distance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

}  // namespace dlbench
