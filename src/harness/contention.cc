#include "harness/contention.h"

#include <fmt/core.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/strings.h"
#include "core/system_info.h"

namespace dlbench {

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

MachineCpuTimes read_machine_cpu_times() {
  MachineCpuTimes times;
  std::ifstream in("/proc/stat");
  std::string line;
  if (!std::getline(in, line)) return times;
  std::istringstream fields(line);
  std::string label;
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
  double value[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  fields >> label;
  if (label != "cpu") return times;
  for (double& v : value) {
    if (!(fields >> v)) return times;
  }
  double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  if (!(tick > 0)) return times;
  times.busy = (value[0] + value[1] + value[2] + value[5] + value[6]) / tick;
  times.steal = value[7] / tick;
  times.valid = true;
  return times;
}

double process_cpu_seconds() {
  struct rusage usage {};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec * 1e-6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double load_average_1m() {
  std::ifstream in("/proc/loadavg");
  double load = NAN;
  if (!(in >> load)) return NAN;
  return load;
}

double Conditions::others_cores() const {
  if (!(wall_s > 0)) return 0;
  double siblings = static_cast<double>(std::max(0, local_ranks - 1) * problem_cores);
  return std::max(0.0, others_cpu_s / wall_s - siblings);
}

double Conditions::steal_cores() const { return wall_s > 0 ? steal_s / wall_s : 0; }

nlohmann::json Conditions::to_json() const {
  auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
  return {{"wall_s", wall_s},
          {"own_cpu_s", own_cpu_s},
          {"others_cpu_s", others_cpu_s},
          {"steal_s", steal_s},
          {"others_cores", others_cores()},
          {"steal_cores", steal_cores()},
          {"load_average_start", number(load_start)},
          {"load_average_end", number(load_end)},
          {"usable_cpus", usable_cpus},
          {"problem_cores", problem_cores},
          {"local_ranks", local_ranks},
          {"judged", judged},
          {"contended", contended},
          {"reason", reason},
          {"thresholds",
           {{"others_share", kContendedOthersShare},
            {"steal_share", kContendedStealShare},
            {"min_judged_s", kMinJudgedSeconds}}}};
}

ConditionsMonitor::ConditionsMonitor(int problem_cores, int local_ranks)
    : problem_cores_(std::max(1, problem_cores)),
      local_ranks_(std::max(1, local_ranks)),
      start_seconds_(now_seconds()),
      own_start_(process_cpu_seconds()),
      load_start_(load_average_1m()),
      machine_start_(read_machine_cpu_times()) {}

Conditions ConditionsMonitor::finish() const {
  Conditions c;
  MachineCpuTimes machine_end = read_machine_cpu_times();
  c.wall_s = now_seconds() - start_seconds_;
  c.own_cpu_s = std::max(0.0, process_cpu_seconds() - own_start_);
  c.load_start = load_start_;
  c.load_end = load_average_1m();
  c.usable_cpus = std::max(1, cpu_info().affinity_cpus);
  c.problem_cores = std::min(problem_cores_, c.usable_cpus);
  c.local_ranks = local_ranks_;
  if (!machine_start_.valid || !machine_end.valid) return c;  // not readable: not judged
  c.others_cpu_s = std::max(0.0, machine_end.busy - machine_start_.busy - c.own_cpu_s);
  c.steal_s = std::max(0.0, machine_end.steal - machine_start_.steal);
  c.readable = true;
  judge_conditions(c);
  return c;
}

void judge_conditions(Conditions& c) {
  c.contended = false;
  c.reason.clear();
  c.judged = c.readable && c.wall_s >= kMinJudgedSeconds;
  if (!c.judged) return;
  // Cores nobody in this run needs absorb other processes without slowing the problem.
  double spare = std::max(0, c.usable_cpus - c.problem_cores * c.local_ranks);
  double spill = c.others_cores() - spare;
  std::vector<std::string> why;
  if (spill > kContendedOthersShare * c.problem_cores) {
    why.push_back(
        fmt::format("other processes kept {:.2f} core(s) busy beyond the {:.0f} idle one(s)",
                    c.others_cores(), spare));
  }
  if (c.steal_cores() > kContendedStealShare * c.problem_cores) {
    why.push_back(fmt::format("the hypervisor took {:.2f} core(s) (steal)", c.steal_cores()));
  }
  if (!why.empty()) {
    c.contended = true;
    c.reason =
        join(why, "; ") + fmt::format(" while the problem ran on {} core(s)", c.problem_cores);
  }
}

double others_busy_cores(double seconds) {
  MachineCpuTimes before = read_machine_cpu_times();
  double own_before = process_cpu_seconds();
  double start = now_seconds();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  MachineCpuTimes after = read_machine_cpu_times();
  double wall = now_seconds() - start;
  if (!before.valid || !after.valid || !(wall > 0)) return NAN;
  double own = process_cpu_seconds() - own_before;
  return std::max(0.0, after.busy - before.busy - own) / wall;
}

}  // namespace dlbench
