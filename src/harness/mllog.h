// The training log in MLPerf's format: one `:::MLLOG {json}` line per event (run_start,
// epoch_start, eval_accuracy, run_stop, ...), so MLPerf's log tooling can read dlbench's quality
// runs. Key names follow MLPerf's logging package; see docs/quality.md.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>

namespace dlbench {

/// Appends MLLOG lines to a file (flushed per line, so a crash keeps what was logged). A log
/// with an empty path discards everything.
class MlLog {
 public:
  /// Opens `path` for appending; throws Error when it cannot.
  explicit MlLog(const std::string& path);
  ~MlLog();
  MlLog(const MlLog&) = delete;
  MlLog& operator=(const MlLog&) = delete;

  /// A POINT_IN_TIME event.
  void event(const std::string& key, const nlohmann::json& value = nullptr,
             const nlohmann::json& metadata = nlohmann::json::object());
  /// An INTERVAL_START event (run_start, epoch_start, eval_start, ...).
  void start(const std::string& key, const nlohmann::json& metadata = nlohmann::json::object());
  /// An INTERVAL_END event (run_stop, epoch_stop, eval_stop, ...).
  void end(const std::string& key, const nlohmann::json& metadata = nlohmann::json::object());
  const std::string& path() const { return path_; }

  /// One formatted line (without the newline), for tests.
  static std::string format(double time_ms, const std::string& event_type, const std::string& key,
                            const nlohmann::json& value, const nlohmann::json& metadata);

 private:
  void write(const std::string& event_type, const std::string& key, const nlohmann::json& value,
             const nlohmann::json& metadata);
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace dlbench
