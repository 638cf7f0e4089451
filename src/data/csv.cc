// Click-log reader and writer (Criteo layout by default). Lines are read one at a time and
// every field is parsed strictly, so an error names the line and the field.
#include "data/csv.h"

#include <fmt/core.h>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

#include "core/error.h"
#include "core/safe_file.h"
#include "core/strings.h"
#include "data/image.h"

namespace dlbench::data {
namespace {

std::string delimiter_name(char delimiter) {
  if (delimiter == '\t') return "tab";
  if (delimiter == ',') return "comma";
  if (delimiter == ';') return "semicolon";
  return fmt::format("'{:c}'", delimiter);
}

// The printable start of a field, for messages.
std::string shown(const char* begin, const char* end) {
  std::string text(begin, std::min<size_t>(static_cast<size_t>(end - begin), 24));
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E) c = '?';
  }
  return "'" + text + (end - begin > 24 ? "...'" : "'");
}

bool parse_hex(const char* begin, const char* end, int64_t* value) {
  const size_t length = static_cast<size_t>(end - begin);
  if (length == 0 || length > 16) return false;
  uint64_t result = 0;
  for (const char* p = begin; p < end; ++p) {
    const char c = *p;
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      return false;
    }
    result = (result << 4) | static_cast<uint64_t>(digit);
  }
  if (result > static_cast<uint64_t>(INT64_MAX)) return false;
  *value = static_cast<int64_t>(result);
  return true;
}

}  // namespace

char click_log_delimiter(const std::string& path, const ClickLogFormat& format) {
  if (format.delimiter != 0) return format.delimiter;
  const std::string lower = to_lower(path);
  return lower.size() >= 4 && lower.compare(lower.size() - 4, 4, ".csv") == 0 ? ',' : '\t';
}

ClickLog read_click_log(const std::string& path, const ClickLogFormat& format) {
  if (format.dense < 0 || format.sparse < 0) {
    throw Error(path + ": click log: the dense and sparse feature counts must be >= 0");
  }
  const char delimiter = click_log_delimiter(path, format);
  const int64_t size = file_size(path);
  if (size == 0) throw Error(path + ": empty file (no click-log lines)");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  {
    char head[512];
    in.read(head, sizeof head);
    const std::string kind =
        describe_content(reinterpret_cast<const uint8_t*>(head), static_cast<size_t>(in.gcount()));
    if (kind != "text") {
      throw Error(fmt::format("{}: not a text click log (the content looks like {})", path,
                              kind.empty() ? "binary data" : kind));
    }
    in.clear();
    in.seekg(0);
  }
  const int fields_expected = 1 + format.dense + format.sparse;
  const std::string layout = fmt::format("label, {} dense, {} sparse, separated by {}",
                                         format.dense, format.sparse, delimiter_name(delimiter));
  std::vector<float> labels, dense;
  std::vector<int64_t> sparse;
  std::vector<const char*> starts, ends;
  std::string line;
  int64_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    const bool final_newline = !in.eof();
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_number == 1 && format.header) continue;
    if (line.empty()) continue;
    if (line.find('\0') != std::string::npos) {
      throw Error(
          fmt::format("{}:{}: binary data (a NUL byte): not a text click log", path, line_number));
    }
    starts.clear();
    ends.clear();
    const char* p = line.data();
    const char* const end = p + line.size();
    starts.push_back(p);
    for (; p < end; ++p) {
      if (*p == delimiter) {
        ends.push_back(p);
        starts.push_back(p + 1);
      }
    }
    ends.push_back(end);
    const int fields = static_cast<int>(starts.size());
    auto fail = [&](const std::string& reason) {
      return Error(fmt::format("{}:{}: {}", path, line_number, reason));
    };
    if (fields != fields_expected) {
      if (!final_newline && fields < fields_expected) {
        throw fail(
            fmt::format("last line cut short: {} of {} fields and no final newline "
                        "(truncated file?)",
                        fields, fields_expected));
      }
      std::string hint;
      for (char other : {'\t', ',', ';'}) {
        if (other != delimiter && fields == 1 && line.find(other) != std::string::npos) {
          hint = fmt::format(" (the line contains {}: wrong delimiter?)", delimiter_name(other));
          break;
        }
      }
      throw fail(
          fmt::format("{} fields, expected {} ({}){}", fields, fields_expected, layout, hint));
    }
    // Label.
    const std::string label(starts[0], ends[0]);
    if (label != "0" && label != "1") {
      // A word where the label should be, on the first line: most likely column names.
      const bool looks_like_header = line_number == 1 && !format.header && !label.empty() &&
                                     std::isalpha(static_cast<unsigned char>(label[0]));
      throw fail(
          fmt::format("field 1 (label) is {}, expected 0 or 1{}", shown(starts[0], ends[0]),
                      looks_like_header ? " (is the first line a header? set header=true)" : ""));
    }
    labels.push_back(label == "1" ? 1.0f : 0.0f);
    // Dense integers.
    for (int i = 0; i < format.dense; ++i) {
      const char* b = starts[1 + i];
      const char* e = ends[1 + i];
      int64_t value = 0;
      if (b != e) {
        const auto result = std::from_chars(b, e, value);
        if (result.ec != std::errc() || result.ptr != e) {
          throw fail(fmt::format("field {} (dense feature {}) is {}, not an integer", 2 + i, 1 + i,
                                 shown(b, e)));
        }
      }
      double x = static_cast<double>(value);
      if (format.log_transform) x = std::log1p(std::max(x, 0.0));
      dense.push_back(static_cast<float>(x));
    }
    // Sparse hex hashes.
    for (int i = 0; i < format.sparse; ++i) {
      const int field = 1 + format.dense + i;
      const char* b = starts[field];
      const char* e = ends[field];
      int64_t value = 0;
      if (b != e && !parse_hex(b, e, &value)) {
        throw fail(
            fmt::format("field {} (sparse feature {}) is {}, not 1..16 hexadecimal digits "
                        "(below 2^63)",
                        field + 1, 1 + i, shown(b, e)));
      }
      sparse.push_back(value);
    }
  }
  if (in.bad()) throw Error(fmt::format("{}: read error: {}", path, std::strerror(errno)));
  const int64_t n = static_cast<int64_t>(labels.size());
  if (n == 0) {
    throw Error(path + (format.header ? ": no samples (only a header or blank lines)"
                                      : ": no samples (only blank lines)"));
  }
  ClickLog log;
  log.labels = torch::from_blob(labels.data(), {n}, torch::kFloat32).clone();
  log.dense = torch::from_blob(dense.data(), {n, format.dense}, torch::kFloat32).clone();
  log.sparse = torch::from_blob(sparse.data(), {n, format.sparse}, torch::kInt64).clone();
  return log;
}

void write_click_log(const std::string& path, const ClickLog& log, char delimiter) {
  if (!log.labels.defined() || log.labels.dim() != 1 || !log.dense.defined() ||
      log.dense.dim() != 2 || !log.sparse.defined() || log.sparse.dim() != 2 ||
      log.dense.size(0) != log.labels.size(0) || log.sparse.size(0) != log.labels.size(0)) {
    throw Error(path + ": click log to write must have labels [N], dense [N, D], sparse [N, S]");
  }
  if (delimiter == '\n' || delimiter == '\r' || delimiter == '-' ||
      std::isxdigit(static_cast<unsigned char>(delimiter))) {
    throw Error(
        fmt::format("{}: unusable click-log delimiter {}", path, delimiter_name(delimiter)));
  }
  const torch::Tensor labels = log.labels.cpu().to(torch::kFloat64).contiguous();
  const torch::Tensor dense = log.dense.cpu().to(torch::kFloat64).contiguous();
  const torch::Tensor sparse = log.sparse.cpu().to(torch::kInt64).contiguous();
  const int64_t n = labels.size(0), d = dense.size(1), s = sparse.size(1);
  const double* label = labels.data_ptr<double>();
  const double* x = dense.data_ptr<double>();
  const int64_t* h = sparse.data_ptr<int64_t>();
  std::string text;
  for (int64_t i = 0; i < n; ++i) {
    if (label[i] != 0.0 && label[i] != 1.0) {
      throw Error(fmt::format("{}: sample {}: label {:g} is not 0 or 1", path, i, label[i]));
    }
    text += label[i] == 1.0 ? '1' : '0';
    for (int64_t j = 0; j < d; ++j) {
      text += delimiter;
      const double value = x[i * d + j];
      if (std::isnan(value)) continue;  // missing
      if (value != std::nearbyint(value) || std::fabs(value) > 9.0e15) {
        throw Error(fmt::format("{}: sample {}: dense feature {} is {:g}, not an integer", path, i,
                                j + 1, value));
      }
      text += std::to_string(static_cast<long long>(value));
    }
    for (int64_t j = 0; j < s; ++j) {
      text += delimiter;
      const int64_t value = h[i * s + j];
      if (value < 0) {
        throw Error(fmt::format("{}: sample {}: sparse feature {} is negative", path, i, j + 1));
      }
      text += fmt::format("{:x}", static_cast<unsigned long long>(value));
    }
    text += '\n';
  }
  write_file(path, text, WriteOptions{0644, true, "click log"});
}

}  // namespace dlbench::data
