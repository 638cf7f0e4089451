// test/sleep: a hidden workload whose step sleeps a known time, so the tests can check the
// runner's timing and run rules against a known answer.
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
    info.params = {ParamSpec::real("ms", 2.0, "milliseconds per step", 0.0, 60000.0)};
    return info;
  }
  explicit Sleep(const Problem& problem) : Workload(problem), ms_(problem.get_double("ms")) {}
  WorkCounts work() const override {
    WorkCounts work;
    work.samples = 1;
    work.sample_unit = "naps";
    return work;
  }
  void setup(ExecContext&) override {}
  void step() override {
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(ms_));
  }

 private:
  double ms_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(Sleep);

}  // namespace dlbench
