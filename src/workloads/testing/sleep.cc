// test/sleep: a hidden workload whose step sleeps a known time, so the tests can check the
// runner's timing and run rules against a known answer, and claims the FLOPs and bytes it is
// told to, so they can check the figures and judgements derived from counts.
#include <chrono>
#include <thread>

#include "core/registry.h"

namespace dlbench {
namespace {

class Sleep : public Workload {
 public:
  static WorkloadInfo info() {
    WorkloadInfo info;
    info.name = "test/sleep";
    info.category = "test";
    info.description = "each step sleeps a fixed time (tests the runner's clock)";
    info.hidden = true;
    info.params = {
        ParamSpec::real("ms", 2.0, "milliseconds per step", 0.0, 60000.0),
        ParamSpec::real("probe_ms", 0.0,
                        "milliseconds per call of a probe 'nap' of 2 naps (0: none)", 0.0, 60000.0),
        ParamSpec::real("flops", 0.0, "fp32 FLOPs claimed per step", 0.0, 1e18),
        ParamSpec::real("bytes", 0.0, "bytes claimed per step", 0.0, 1e18)};
    return info;
  }
  explicit Sleep(const Problem& problem)
      : Workload(problem),
        ms_(problem.get_double("ms")),
        probe_ms_(problem.get_double("probe_ms")),
        flops_(problem.get_double("flops")),
        bytes_(problem.get_double("bytes")) {}
  WorkCounts work() const override {
    WorkCounts work;
    work.flops = flops_;
    work.bytes = bytes_;
    work.samples = 1;
    work.sample_unit = "naps";
    return work;
  }
  void setup(ExecContext&) override {}
  void step() override { nap(ms_); }
  std::vector<Probe> probes() override {
    if (!(probe_ms_ > 0)) return {};
    return {Probe{"nap", "sleeps probe_ms", [this] { nap(probe_ms_); }, 2, "naps", true}};
  }

 private:
  static void nap(double ms) {
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(ms));
  }
  double ms_;
  double probe_ms_;
  double flops_;
  double bytes_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(Sleep);

}  // namespace dlbench
