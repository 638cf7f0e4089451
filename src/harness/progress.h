// Progress of a running problem: what it is doing (warm-up, repetition k/n, step i, a quality
// run's evaluations), for the heartbeat lines `dlbench run` prints while a long problem runs.
// The runner reports; an isolated child forwards its reports to its parent through a pipe
// (DLBENCH_PROGRESS_FD); the parent prints them under the heartbeat rule.
#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace dlbench {

/// A problem prints nothing until it has run this long ...
constexpr double kHeartbeatAfterSeconds = 5;
/// ... then a heartbeat line at least this often.
constexpr double kHeartbeatEverySeconds = 2;

/// Where progress goes in this process: a function that receives each report. `event` reports
/// (a quality run's evaluations) are always printed; the others are the current state, printed
/// under the heartbeat rule. Null: progress is dropped (the default).
using ProgressSink = std::function<void(const std::string& text, bool event)>;

/// Installs the sink of this process (replacing any other); `tick`, when given, is called by
/// progress_tick() (a supervisor's poll loop) so a heartbeat is printed even while no report
/// arrives (a long step).
void set_progress_sink(ProgressSink sink, std::function<void()> tick = nullptr);

/// Calls the installed tick function, if any.
void progress_tick();

/// Hands one line of the pipe protocol ("S state" or "E event"), read from an isolated child,
/// to the installed sink.
void deliver_progress_line(const std::string& line);

/// When DLBENCH_PROGRESS_FD names a file descriptor (an isolated child), installs a sink that
/// writes each report to it as one line.
void install_progress_pipe_from_environment();

/// Puts `prefix` before every state reported from now on (a composite's "part 3/12 conv1: ");
/// "" removes it.
void set_progress_prefix(const std::string& prefix);

/// Reports what the problem is doing now. Cheap: the state is forwarded at most every 0.5 s.
void report_progress(const std::string& state);
/// Reports an event that is always shown (a quality run's evaluation).
void report_progress_event(const std::string& text);

/// The heartbeat rule for one problem: feed it the reports as they arrive and poll it; it says
/// which line to print and when.
class Heartbeat {
 public:
  /// `print` receives each line to show. `elapsed`, when given, replaces the clock: it returns
  /// the seconds since the problem started (tests).
  explicit Heartbeat(std::function<void(const std::string&)> print,
                     std::function<double()> elapsed = nullptr);
  /// A report arrived (then polls).
  void update(const std::string& text, bool event);
  /// Prints the latest state when the problem has run kHeartbeatAfterSeconds and the last line
  /// is kHeartbeatEverySeconds old. Call it often (every 100 ms or so).
  void poll();

 private:
  double seconds_since_start() const;
  std::function<void(const std::string&)> print_;
  std::function<double()> elapsed_;
  std::chrono::steady_clock::time_point start_;
  double last_printed_ = -1e9;
  std::string state_ = "starting";
};

}  // namespace dlbench
