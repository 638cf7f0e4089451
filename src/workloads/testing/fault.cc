// test/fault: a hidden workload that fails on purpose (crash, abort, exit, throw, hang), so the
// tests can prove that isolation contains it and the suite goes on. With `rank`, only that rank
// of a distributed run fails, and the others must stop with an error naming it. `dlbench list
// --all` shows it.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <thread>

#include "core/comm_group.h"
#include "core/registry.h"

namespace dlbench {
namespace {

class Fault : public Workload {
 public:
  static WorkloadInfo info() {
    WorkloadInfo info;
    info.name = "test/fault";
    info.category = "test";
    info.description = "fails on purpose, for testing isolation and error handling";
    info.hidden = true;
    info.params = {
        ParamSpec::choice("fault", "none",
                          {"none", "segv", "abort", "exit", "kill", "throw", "bad_alloc", "hang"},
                          "what goes wrong"),
        ParamSpec::choice("when", "step", {"setup", "step"}, "where it goes wrong"),
        ParamSpec::integer("rank", -1,
                           "in a distributed run, the one rank that fails (-1: every rank)", -1),
    };
    return info;
  }

  explicit Fault(const Problem& problem)
      : Workload(problem),
        fault_(problem.get("fault")),
        when_(problem.get("when")),
        rank_(problem.get_int("rank")) {}

  WorkCounts work() const override {
    WorkCounts work;
    work.sample_unit = "faults";  // lets tests see that a crashed problem keeps its work counts
    return work;
  }
  void setup(ExecContext& context) override {
    rank_of_this_process_ = context.group ? context.group->rank() : 0;
    if (when_ == "setup") inject();
  }
  void step() override {
    if (when_ == "step") inject();
  }

 private:
  void inject() {
    if (rank_ >= 0 && rank_of_this_process_ != rank_) return;
    if (fault_ == "segv") raise(SIGSEGV);
    if (fault_ == "abort") std::abort();
    if (fault_ == "exit") std::_Exit(3);
    if (fault_ == "kill") raise(SIGKILL);
    if (fault_ == "throw") throw std::runtime_error("injected failure");
    if (fault_ == "bad_alloc") throw std::bad_alloc();
    if (fault_ == "hang") {
      while (true) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
  std::string fault_, when_;
  int64_t rank_ = -1;
  int rank_of_this_process_ = 0;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(Fault);

}  // namespace dlbench
