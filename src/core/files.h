// Reading the files a user or a cache hands dlbench: regular files only (a FIFO would block the
// run), and JSON with bounded nesting (a file nested 100,000 deep must not exhaust the stack).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace dlbench {

/// The deepest nesting of arrays and objects accepted in a JSON file dlbench reads. Its own
/// files nest at most about 10 levels (a results file: results, record, run, quality_runs,
/// curve, point).
constexpr int kMaxJsonDepth = 64;

/// A file opened for reading by open_regular_file.
struct OpenedFile {
  int fd = -1;          ///< the descriptor (blocking, close-on-exec), or -1 when not opened
  int64_t size = 0;     ///< its size in bytes
  std::string problem;  ///< why it was not opened ("" when it was)
  bool system = false;  ///< the problem is the system's reason (strerror): missing, no access
};

/// Opens `path` read-only when it is a regular file. The open never blocks (O_NONBLOCK, cleared
/// afterwards), so a FIFO is refused instead of hanging the run. On failure `problem` says why:
/// the system's reason ("No such file or directory"), "is a folder, not a file" or
/// "is a FIFO, not a regular file" (also for devices and sockets). The caller closes `fd`.
OpenedFile open_regular_file(const std::string& path);

/// What keeps `path` from being read as a regular file, by its status (stat, following links):
/// "" for a regular file, else as OpenedFile::problem says. For listings, where opening every
/// file would cost; open_regular_file checks again when the file is read.
std::string regular_file_problem(const std::string& path);

/// The whole content of the regular file `path`; Error "cannot read WHAT 'PATH': why" otherwise.
/// `what` names the file's role ("results file"). Files above `max_bytes` are refused.
std::string read_regular_file(const std::string& path, const std::string& what,
                              int64_t max_bytes = int64_t{1} << 32);

/// Parses JSON text. Throws Error "ORIGIN is not valid JSON: why" on a syntax error, a number
/// out of range (1e999999) or nesting deeper than kMaxJsonDepth. `origin` names the text in
/// messages ("results file 'a.json'").
nlohmann::json parse_json_text(const std::string& text, const std::string& origin);

/// Reads and parses the JSON file at `path` (read_regular_file, then parse_json_text); `what`
/// names its role in messages ("results file", "measured-ceilings cache", "child spec").
nlohmann::json parse_json_file(const std::string& path, const std::string& what);

}  // namespace dlbench
