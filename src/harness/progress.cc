#include "harness/progress.h"

#include <fmt/core.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <mutex>

#include "core/strings.h"

namespace dlbench {

namespace {

using Clock = std::chrono::steady_clock;

/// States are forwarded at most this often.
constexpr double kForwardEverySeconds = 0.5;

std::mutex g_mutex;
ProgressSink g_sink;
std::function<void()> g_tick;
Clock::time_point g_last_forward;
bool g_forwarded_once = false;
std::string g_prefix;

void forward(const std::string& text, bool event) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_sink) return;
  auto now = Clock::now();
  if (!event && g_forwarded_once &&
      std::chrono::duration<double>(now - g_last_forward).count() < kForwardEverySeconds) {
    return;
  }
  if (!event) {
    g_last_forward = now;
    g_forwarded_once = true;
  }
  g_sink(event ? text : g_prefix + text, event);
}

/// One line of the pipe protocol: no newline may hide inside the text.
std::string one_line(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

}  // namespace

void set_progress_sink(ProgressSink sink, std::function<void()> tick) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_sink = std::move(sink);
  g_tick = std::move(tick);
  g_forwarded_once = false;
}

void progress_tick() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_tick) g_tick();
}

void deliver_progress_line(const std::string& line) {
  if (line.size() < 2 || line[1] != ' ' || (line[0] != 'S' && line[0] != 'E')) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_sink) g_sink(line.substr(2), line[0] == 'E');
}

void install_progress_pipe_from_environment() {
  const char* value = std::getenv("DLBENCH_PROGRESS_FD");
  if (!value || !*value) return;
  std::optional<int64_t> fd = parse_int(value);
  if (!fd || *fd < 0) return;
  int descriptor = static_cast<int>(*fd);
  set_progress_sink([descriptor](const std::string& text, bool event) {
    std::string line = std::string(event ? "E " : "S ") + one_line(text) + "\n";
    size_t written = 0;
    while (written < line.size()) {
      ssize_t n = ::write(descriptor, line.data() + written, line.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // the parent stopped reading: progress is not worth failing for
      written += static_cast<size_t>(n);
    }
  });
}

void set_progress_prefix(const std::string& prefix) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_prefix = prefix;
}

void report_progress(const std::string& state) { forward(state, false); }

void report_progress_event(const std::string& text) { forward(text, true); }

Heartbeat::Heartbeat(std::function<void(const std::string&)> print, std::function<double()> elapsed)
    : print_(std::move(print)), elapsed_(std::move(elapsed)), start_(Clock::now()) {}

double Heartbeat::seconds_since_start() const {
  if (elapsed_) return elapsed_();
  return std::chrono::duration<double>(Clock::now() - start_).count();
}

void Heartbeat::update(const std::string& text, bool event) {
  if (event) {
    double elapsed = seconds_since_start();
    print_(fmt::format("    {}  {}", format_seconds(elapsed), text));
    last_printed_ = elapsed;
    return;
  }
  state_ = text;
  poll();
}

void Heartbeat::poll() {
  double elapsed = seconds_since_start();
  if (state_.empty() || elapsed < kHeartbeatAfterSeconds ||
      elapsed - last_printed_ < kHeartbeatEverySeconds) {
    return;
  }
  print_(fmt::format("    {}  {}", format_seconds(elapsed), state_));
  last_printed_ = elapsed;
}

}  // namespace dlbench
