// Click logs as delimited text, Criteo's layout by default: a 0/1 label, 13 integer (dense)
// features and 26 categorical features given as hexadecimal hashes, tab-separated, empty fields
// meaning "missing". Reader and writer. Formats, checks and messages: docs/data-formats.md.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace dlbench::data {

/// The layout of a click log.
struct ClickLogFormat {
  int dense = 13;             ///< integer features after the label
  int sparse = 26;            ///< hexadecimal categorical features after the dense ones
  char delimiter = 0;         ///< 0: by extension (.csv comma, anything else tab)
  bool header = false;        ///< the first line names the columns and is skipped
  bool log_transform = true;  ///< dense x -> log(1 + max(x, 0)), as DLRM's preprocessing does
};

/// A click log in tensors; row i of each is sample i.
struct ClickLog {
  torch::Tensor labels;  ///< float [N], 0 or 1
  torch::Tensor dense;   ///< float [N, D]; missing = 0 (then log-transformed if asked)
  torch::Tensor sparse;  ///< int64 [N, S]; hex values; missing = 0
  /// Number of samples.
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

/// The delimiter `format` implies for `path`: the explicit one, else ',' for .csv and '\t'
/// otherwise (.tsv, .txt, Criteo's train.txt).
char click_log_delimiter(const std::string& path, const ClickLogFormat& format);

/// Reads a click log. Lines end with "\n" or "\r\n"; blank lines are skipped. Throws
/// dlbench::Error "<path>:<line>: <reason>" for a wrong field count, a label other than 0/1, a
/// non-integer dense field, a sparse field that is not 1..16 hex digits (or above 2^63 - 1), or a
/// last line cut short without a final newline; "<path>: <reason>" for a missing or empty file
/// (or one with only a header).
ClickLog read_click_log(const std::string& path, const ClickLogFormat& format = {});

/// Writes a click log (labels 0/1; dense values integers, NaN written as an empty field; sparse
/// values >= 0 written as lower-case hex) with the given delimiter, one sample per line, no
/// header. Throws dlbench::Error naming `path` on inconsistent tensors or a write error.
void write_click_log(const std::string& path, const ClickLog& log, char delimiter = '\t');

}  // namespace dlbench::data
