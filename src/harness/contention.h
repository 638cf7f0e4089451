// The conditions of a measurement: how busy the machine was while a problem ran. Other processes
// and the hypervisor (steal) take CPU time a problem needed, and a result measured under them is
// flagged `contended` (docs/metrics.md, "Conditions of a measurement").
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace dlbench {

/// A result is contended when, over its measurement, other processes took more than this share
/// of the cores the problem runs on, beyond the cores it leaves idle.
constexpr double kContendedOthersShare = 0.10;
/// ... or when the hypervisor took (steal) more than this share of them.
constexpr double kContendedStealShare = 0.05;
/// Measurements shorter than this are recorded but not judged (the kernel counts CPU time in
/// 10 ms ticks).
constexpr double kMinJudgedSeconds = 0.5;
/// `run` warns at the start when other processes keep at least this many cores busy (or a
/// quarter of the usable ones, whichever is more).
constexpr double kBusyMachineCores = 0.5;

/// The whole machine's CPU time from /proc/stat, in seconds.
struct MachineCpuTimes {
  double busy = 0;   ///< user + nice + system + irq + softirq, over every CPU
  double steal = 0;  ///< time the hypervisor ran something else on our virtual CPUs
  bool valid = false;
};

/// Reads /proc/stat (invalid where it cannot be read).
MachineCpuTimes read_machine_cpu_times();

/// CPU time this process used so far, every thread, user + system, in seconds.
double process_cpu_seconds();

/// The 1-minute load average, NAN where unreadable.
double load_average_1m();

/// What the machine did while a problem was measured, and the verdict.
struct Conditions {
  double wall_s = 0;        ///< measured wall time
  double own_cpu_s = 0;     ///< CPU time of this process (the problem, its loader threads)
  double others_cpu_s = 0;  ///< CPU time of every other process
  double steal_s = 0;       ///< CPU time the hypervisor took
  double load_start = NAN;  ///< 1-minute load average before
  double load_end = NAN;    ///< and after
  int usable_cpus = 1;      ///< CPUs this process may run on
  int problem_cores = 1;    ///< cores the problem runs on (its threads)
  int local_ranks = 1;      ///< ranks of the same run on this host (their CPU is expected)
  bool readable = false;    ///< /proc/stat could be read at both ends
  bool judged = false;      ///< readable and at least kMinJudgedSeconds long
  bool contended = false;   ///< see kContendedOthersShare, kContendedStealShare
  std::string reason;       ///< why it is contended, in words ("" when not)

  /// Cores other processes kept busy on average, beyond the problem's sibling ranks.
  double others_cores() const;
  /// Cores the hypervisor took on average.
  double steal_cores() const;
  nlohmann::json to_json() const;
};

/// Judges measured conditions: sets `judged`, `contended` and `reason` from the wall time, the
/// CPU time of others, steal, the usable CPUs, the problem's cores and the local ranks.
void judge_conditions(Conditions& conditions);

/// Watches the machine from construction to finish(): wall time, this process's CPU time, the
/// machine's busy and steal time, the load average.
class ConditionsMonitor {
 public:
  /// `problem_cores`: the problem's threads; `local_ranks`: ranks of the run on this host.
  ConditionsMonitor(int problem_cores, int local_ranks);
  /// The conditions since construction, judged.
  Conditions finish() const;

 private:
  int problem_cores_, local_ranks_;
  double start_seconds_, own_start_, load_start_;
  MachineCpuTimes machine_start_;
};

/// Samples the machine for `seconds` and returns the cores other processes kept busy (NAN where
/// /proc/stat is unreadable), for the warning `run` prints before it starts.
double others_busy_cores(double seconds);

}  // namespace dlbench
