#include "core/files.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "core/strings.h"

namespace dlbench {

using nlohmann::json;

namespace {

/// "a FIFO", "a character device", ... for a file that is neither regular nor a folder.
std::string special_file_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "a special file";
}

/// nlohmann's message without its "[json.exception.parse_error.101] " prefix.
std::string json_reason(const json::exception& e) {
  std::string message = e.what();
  size_t bracket = message.find("] ");
  if (!message.empty() && message[0] == '[' && bracket != std::string::npos) {
    message = message.substr(bracket + 2);
  }
  return message;
}

/// OpenedFile::problem for a file of type `mode` ("" for a regular file).
std::string file_type_problem(mode_t mode) {
  if (S_ISREG(mode)) return "";
  if (S_ISDIR(mode)) return "is a folder, not a file";
  return "is " + special_file_kind(mode) + ", not a regular file";
}

}  // namespace

std::string regular_file_problem(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return std::strerror(errno);
  return file_type_problem(info.st_mode);
}

OpenedFile open_regular_file(const std::string& path) {
  OpenedFile file;
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    file.problem = std::strerror(errno);
    file.system = true;
    return file;
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    file.problem = std::strerror(errno);
    file.system = true;
    ::close(fd);
    return file;
  }
  file.problem = file_type_problem(info.st_mode);
  int flags = ::fcntl(fd, F_GETFL);
  if (file.problem.empty() && (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)) {
    file.problem = std::strerror(errno);
    file.system = true;
  }
  if (!file.problem.empty()) {
    ::close(fd);
    return file;
  }
  file.fd = fd;
  file.size = static_cast<int64_t>(info.st_size);
  return file;
}

std::string read_regular_file(const std::string& path, const std::string& what, int64_t max_bytes) {
  const std::string name = what + " " + single_quoted(path);
  OpenedFile file = open_regular_file(path);
  if (file.fd < 0) throw Error("cannot read " + name + ": " + file.problem);
  if (file.size > max_bytes) {
    ::close(file.fd);
    throw Error(fmt::format("cannot read {}: it has {}, more than the {} a {} may have", name,
                            format_bytes(static_cast<double>(file.size)),
                            format_bytes(static_cast<double>(max_bytes)), what));
  }
  std::string text;
  text.reserve(static_cast<size_t>(file.size));
  char buffer[1 << 16];
  for (;;) {
    ssize_t got = ::read(file.fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      int saved = errno;
      ::close(file.fd);
      throw Error("cannot read " + name + ": " + std::strerror(saved));
    }
    if (got == 0) break;
    text.append(buffer, static_cast<size_t>(got));
    if (static_cast<int64_t>(text.size()) > max_bytes) {
      ::close(file.fd);
      throw Error("cannot read " + name + ": it grew while being read");
    }
  }
  ::close(file.fd);
  return text;
}

json parse_json_text(const std::string& text, const std::string& origin) {
  // The callback sees each array and object as it opens, at the depth of its parent; parsing
  // stops at the first one past the limit, before anything deeper is built.
  json::parser_callback_t limit_depth = [&](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= kMaxJsonDepth) {
      throw Error(
          fmt::format("{} is not valid JSON for dlbench: arrays and objects nest deeper "
                      "than {} levels",
                      origin, kMaxJsonDepth));
    }
    return true;
  };
  try {
    return json::parse(text, limit_depth);
  } catch (const json::exception& e) {
    throw Error(origin + " is not valid JSON (" + json_reason(e) + ")");
  }
}

json parse_json_file(const std::string& path, const std::string& what) {
  return parse_json_text(read_regular_file(path, what), what + " " + single_quoted(path));
}

}  // namespace dlbench
