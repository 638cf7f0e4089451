#include "harness/launcher.h"

#include <fmt/core.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <thread>

#include "core/distributed.h"
#include "core/error.h"
#include "core/strings.h"
#include "harness/isolation.h"

namespace dlbench::dist {

namespace {

using Clock = std::chrono::steady_clock;

std::string exit_description(int status) {
  if (WIFSIGNALED(status)) {
    const char* name = strsignal(WTERMSIG(status));
    return fmt::format("was killed by signal {} ({})", WTERMSIG(status), name ? name : "?");
  }
  return fmt::format("exited with status {}", WEXITSTATUS(status));
}

/// A rank's end that leaves its peers waiting: a signal, or a status other than 0 (all passed)
/// and 1 (some problem failed, which every rank reports the same way).
bool died(int status) {
  return WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) > 1);
}

}  // namespace

std::vector<int> parse_nproc(const std::string& text) {
  std::vector<int> counts;
  for (const std::string& part : split(text, ',')) {
    std::optional<double> value = parse_double(trim(part));
    if (!value || *value < 1 || *value > 4096 || *value != static_cast<int>(*value)) {
      throw Error("--nproc '" + text + "': expected a rank count (2) or a sweep (1,2,4)");
    }
    counts.push_back(static_cast<int>(*value));
  }
  if (counts.empty()) throw Error("--nproc needs a rank count");
  return counts;
}

int launch_local(int nproc, const std::vector<std::string>& args, double grace_s) {
  const int port = free_tcp_port();
  std::map<pid_t, int> running;  // pid -> rank
  for (int rank = 0; rank < nproc; ++rank) {
    pid_t pid = fork();
    if (pid < 0) throw Error(std::string("cannot start rank processes: ") + std::strerror(errno));
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);  // a killed launcher takes its ranks with it
      setenv("RANK", std::to_string(rank).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
      setenv("LOCAL_WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      setenv("MASTER_ADDR", "127.0.0.1", 1);
      setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      setenv("DLBENCH_LAUNCHER", "dlbench --nproc", 1);
      std::vector<const char*> argv{"dlbench"};
      for (const std::string& arg : args) argv.push_back(arg.c_str());
      argv.push_back(nullptr);
      execv("/proc/self/exe", const_cast<char* const*>(argv.data()));
      _exit(127);
    }
    running[pid] = rank;
  }

  install_interrupt_handlers();  // the ranks get the terminal's Ctrl-C themselves
  bool any_died = false, any_failed = false;
  std::string first_failure;
  std::optional<Clock::time_point> deadline;
  int signal_sent = 0;
  while (!running.empty()) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0 && running.count(pid)) {
      int rank = running[pid];
      running.erase(pid);
      if (died(status)) {
        any_died = true;
        std::fprintf(stderr, "dlbench: rank %d of %d (pid %d) %s\n", rank, nproc, pid,
                     exit_description(status).c_str());
        if (first_failure.empty()) first_failure = fmt::format("rank {}", rank);
      } else if (WEXITSTATUS(status) != 0) {
        any_failed = true;
      }
      // A rank that ended leaves the others to finish the problem at hand; one that died may
      // leave them waiting for it until their process-group timeout.
      if (!running.empty() && !deadline) {
        deadline =
            Clock::now() + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(died(status) ? grace_s : 4 * grace_s));
      }
      continue;
    }
    if (pid < 0 && errno != EINTR) break;
    if (deadline && Clock::now() > *deadline && signal_sent < 2) {
      int sig = signal_sent == 0 ? SIGTERM : SIGKILL;
      std::vector<std::string> names;
      for (const auto& [p, r] : running) {
        kill(p, sig);
        names.push_back(std::to_string(r));
      }
      std::fprintf(stderr, "dlbench: %s rank(s) %s, still running after %s ended\n",
                   sig == SIGTERM ? "stopping" : "killing", join(names, ", ").c_str(),
                   first_failure.empty() ? "another rank" : first_failure.c_str());
      ++signal_sent;
      deadline = Clock::now() + std::chrono::seconds(10);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return any_died || any_failed ? kExitFailures : kExitOk;
}

}  // namespace dlbench::dist
