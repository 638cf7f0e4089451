#include "harness/isolation.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/files.h"
#include "core/registry.h"
#include "core/safe_file.h"
#include "core/strings.h"
#include "core/system_info.h"
#include "harness/child_spec.h"
#include "harness/progress.h"

namespace dlbench {

using nlohmann::json;

namespace {

/// The file descriptor an isolated child writes its progress reports to.
constexpr int kProgressFd = 3;

std::atomic<bool> g_interrupted{false};

void on_interrupt(int) { g_interrupted.store(true); }

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

/// The last non-empty line of a child's stderr, for the failure reason.
std::string last_line(const std::string& text) {
  auto lines = split(text, '\n');
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    std::string line = trim(*it);
    if (!line.empty()) return line.size() > 300 ? line.substr(0, 300) + "..." : line;
  }
  return "";
}

std::string signal_description(int signal_number) {
  const char* name = strsignal(signal_number);
  std::string text = fmt::format("killed by signal {} ({})", signal_number, name ? name : "?");
  if (signal_number == SIGKILL) text += "; likely the kernel's out-of-memory killer";
  return text;
}

/// A private temporary directory for one child (spec, result, stderr), and the child's private
/// scratch directory (io/storage's shards): both removed with everything in them on
/// destruction, however the child ended (a --timeout kill included). The scratch directory is
/// under $DLBENCH_IO_DIR when set (the file system a storage run measures), else inside the
/// temporary directory.
class TempDir {
 public:
  TempDir() : path_(make_private_directory(temp_directory(), "dlbench-")) {
    const char* io_dir = std::getenv("DLBENCH_IO_DIR");
    try {
      if (io_dir && *io_dir) {
        scratch_ = make_private_directory(io_dir, "dlbench-scratch-");
      } else if (::mkdir((path_ + "/scratch").c_str(), 0700) == 0) {
        scratch_ = path_ + "/scratch";
      }
    } catch (const Error&) {
      // No scratch directory: a workload that needs one reports the reason itself.
    }
  }
  ~TempDir() {
    remove_tree(scratch_);
    for (const char* name : {"/spec.json", "/result.json", "/stderr.log"}) {
      ::unlink((path_ + name).c_str());
    }
    ::rmdir(path_.c_str());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  /// The child's scratch directory ("" when it could not be made).
  const std::string& scratch() const { return scratch_; }

 private:
  std::string path_;
  std::string scratch_;
};

Result failed_result(const Problem& resolved, const std::string& reason) {
  Result result;
  result.problem = resolved.str();
  result.workload = resolved.workload;
  result.params = resolved.params;
  result.status = Status::kFailed;
  result.reason = reason;
  result.started = utc_timestamp();
  try {
    result.work = Registry::instance().create(resolved)->work();  // analytic: no allocation
  } catch (const std::exception&) {
  }
  return result;
}

}  // namespace

bool interrupted() { return g_interrupted.load(); }

void install_interrupt_handlers() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

Result run_isolated(const Problem& resolved, const RunOptions& options,
                    const std::function<std::string()>& stop_reason) {
  TempDir dir;
  std::string spec_path = dir.path() + "/spec.json";
  std::string result_path = dir.path() + "/result.json";
  std::string stderr_path = dir.path() + "/stderr.log";
  {
    std::ofstream spec(spec_path);
    // The child takes this process's CPU clock, so every result of a run uses one ceiling.
    spec << json{{"problem", resolved.str()},
                 {"options", options.to_json()},
                 {"scratch", dir.scratch()},
                 {"cpu_clock", {{"hz", cpu_info().clock_hz}, {"source", cpu_info().clock_source}}}}
                .dump();
    if (!spec) throw Error("cannot write " + spec_path);
  }

  // Progress: the child writes report lines to a pipe (fd kProgressFd, named in its
  // environment); this loop reads them and hands them to this process's progress sink.
  int progress_pipe[2] = {-1, -1};
  if (pipe2(progress_pipe, O_CLOEXEC) != 0) progress_pipe[0] = progress_pipe[1] = -1;
  std::vector<std::string> environment;
  for (char** variable = environ; variable && *variable; ++variable) {
    if (!starts_with(*variable, "DLBENCH_PROGRESS_FD=")) environment.push_back(*variable);
  }
  if (progress_pipe[1] >= 0) {
    environment.push_back("DLBENCH_PROGRESS_FD=" + std::to_string(kProgressFd));
    fcntl(progress_pipe[0], F_SETFL, O_NONBLOCK);
  }
  std::vector<char*> envp;
  for (std::string& variable : environment) envp.push_back(variable.data());
  envp.push_back(nullptr);

  auto start = std::chrono::steady_clock::now();
  std::string started = utc_timestamp();
  pid_t pid = fork();
  if (pid < 0) throw Error(std::string("cannot start a child process: ") + std::strerror(errno));
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec. It dies with its supervisor, so a killed
    // rank leaves no orphan running the problem.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (err >= 0) {
      dup2(err, STDERR_FILENO);
      dup2(err, STDOUT_FILENO);
    }
    if (progress_pipe[1] >= 0) {
      if (progress_pipe[1] == kProgressFd) {
        fcntl(kProgressFd, F_SETFD, 0);  // keep it across exec
      } else {
        dup2(progress_pipe[1], kProgressFd);  // the copy does not close on exec
      }
    }
    const char* argv[] = {"dlbench", "_child", spec_path.c_str(), result_path.c_str(), nullptr};
    execve("/proc/self/exe", const_cast<char* const*>(argv), envp.data());
    _exit(127);
  }
  setpgid(pid, pid);
  if (progress_pipe[1] >= 0) ::close(progress_pipe[1]);
  std::string progress_buffer;
  auto read_progress = [&]() {
    if (progress_pipe[0] < 0) return;
    char chunk[4096];
    while (true) {
      ssize_t n = ::read(progress_pipe[0], chunk, sizeof(chunk));
      if (n <= 0) break;
      progress_buffer.append(chunk, static_cast<size_t>(n));
      if (progress_buffer.size() > (1 << 20)) progress_buffer.clear();  // a runaway child
    }
    size_t newline;
    while ((newline = progress_buffer.find('\n')) != std::string::npos) {
      deliver_progress_line(progress_buffer.substr(0, newline));
      progress_buffer.erase(0, newline + 1);
    }
    progress_tick();
  };

  int status = 0;
  struct rusage usage {};
  bool timed_out = false, was_interrupted = false;
  std::string stopped;
  for (int poll = 1;; ++poll) {
    pid_t done = wait4(pid, &status, WNOHANG, &usage);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) break;
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (elapsed > options.timeout || interrupted()) {
      timed_out = !interrupted();
      was_interrupted = interrupted();
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      wait4(pid, &status, 0, &usage);
      break;
    }
    if (stop_reason && poll % 10 == 0) {
      stopped = stop_reason();
      if (!stopped.empty()) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        wait4(pid, &status, 0, &usage);
        break;
      }
    }
    read_progress();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  read_progress();
  if (progress_pipe[0] >= 0) ::close(progress_pipe[0]);
  double duration = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string child_stderr = read_file(stderr_path);
  std::string stderr_tail = last_line(child_stderr);

  Result result;
  if (timed_out) {
    result = failed_result(resolved, fmt::format("timed out after {:.0f} s (the per-problem limit; "
                                                 "raise it with --timeout)",
                                                 options.timeout));
  } else if (was_interrupted) {
    result = failed_result(resolved, "interrupted by the user");
  } else if (!stopped.empty()) {
    result = failed_result(resolved, stopped);
  } else if (WIFSIGNALED(status)) {
    std::string reason = "crashed: " + signal_description(WTERMSIG(status));
    if (!stderr_tail.empty()) reason += "; last output: " + stderr_tail;
    result = failed_result(resolved, reason);
  } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0 && read_file(result_path).empty()) {
    std::string reason = fmt::format("child process exited with status {}", WEXITSTATUS(status));
    if (!stderr_tail.empty()) reason += ": " + stderr_tail;
    result = failed_result(resolved, reason);
  } else {
    std::string text = read_file(result_path);
    try {
      result = result_from_json(parse_json_text(text, "the child's result file"));
    } catch (const std::exception& e) {
      result = failed_result(resolved, std::string("child wrote no readable result (") + e.what() +
                                           ")" + (stderr_tail.empty() ? "" : ": " + stderr_tail));
    }
  }
  result.isolated = true;
  result.started = started;
  result.duration_s = duration;
  if (!result.metrics.count("host_peak_rss") && usage.ru_maxrss > 0) {
    result.set_metric("host_peak_rss", usage.ru_maxrss * 1024.0, "B", "lower");
  }
  if (result.run.empty()) result.run = options.to_json();
  return result;
}

int run_child(const std::string& spec_path, const std::string& result_path) {
  install_progress_pipe_from_environment();
  json spec = load_child_spec(spec_path);  // Error (exit 2) on a bad spec
  if (spec.contains("cpu_clock")) {
    adopt_cpu_clock(spec["cpu_clock"].value("hz", 0.0), spec["cpu_clock"].value("source", ""));
  }
  Problem problem =
      Registry::instance().resolve(Problem::parse(spec.at("problem").get<std::string>()));
  RunOptions options = RunOptions::from_json(spec.at("options"));
  // Scratch data goes where the supervisor removes it, even when this process is killed.
  std::string scratch = spec.value("scratch", "");
  if (!scratch.empty()) setenv("DLBENCH_SCRATCH_DIR", scratch.c_str(), 1);
  Result result = run_in_process(problem, options);
  result.isolated = true;
  std::ofstream out(result_path);
  out << to_json(result).dump();
  out.close();
  return out ? 0 : 1;
}

}  // namespace dlbench
