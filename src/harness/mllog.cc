// MLPerf-style training log (see mllog.h).
#include "harness/mllog.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/error.h"

namespace dlbench {

MlLog::MlLog(const std::string& path) : path_(path) {
  if (path.empty()) return;
  // Appended to, never through a symlink: its name beside the results file is predictable.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd >= 0) file_ = ::fdopen(fd, "a");
  if (!file_) {
    int error = errno;
    if (fd >= 0) ::close(fd);
    throw Error("cannot open the training log '" + path + "' for writing: " + std::strerror(error));
  }
}

MlLog::~MlLog() {
  if (file_) std::fclose(file_);
}

std::string MlLog::format(double time_ms, const std::string& event_type, const std::string& key,
                          const nlohmann::json& value, const nlohmann::json& metadata) {
  nlohmann::json line = {{"namespace", ""}, {"time_ms", time_ms}, {"event_type", event_type},
                         {"key", key},      {"value", value},     {"metadata", metadata}};
  return ":::MLLOG " + line.dump();
}

void MlLog::write(const std::string& event_type, const std::string& key,
                  const nlohmann::json& value, const nlohmann::json& metadata) {
  if (!file_) return;
  auto now = std::chrono::system_clock::now().time_since_epoch();
  double time_ms =
      static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
  nlohmann::json meta = metadata;
  meta["file"] = "dlbench";
  std::string line = format(time_ms, event_type, key, value, meta) + "\n";
  std::fputs(line.c_str(), file_);
  std::fflush(file_);
}

void MlLog::event(const std::string& key, const nlohmann::json& value,
                  const nlohmann::json& metadata) {
  write("POINT_IN_TIME", key, value, metadata);
}

void MlLog::start(const std::string& key, const nlohmann::json& metadata) {
  write("INTERVAL_START", key, nullptr, metadata);
}

void MlLog::end(const std::string& key, const nlohmann::json& metadata) {
  write("INTERVAL_END", key, nullptr, metadata);
}

}  // namespace dlbench
