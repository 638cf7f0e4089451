// dlbench entry point: everything lives in run_cli; this turns stray exceptions into one line.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "cli/commands.h"
#include "core/error.h"
#include "core/strings.h"

namespace {

/// OpenMP threads that spin for long after a parallel region steal the cores OpenBLAS's own
/// threads need for the next GEMM: on 2 cores, BERT's training step ran 2.5x slower with
/// libgomp's default spin than with GOMP_SPINCOUNT=10000, which also sped up a 1024^3 GEMM by 18%
/// and left ResNet-50 (oneDNN) unchanged (docs/metrics.md, "Threads"). libgomp reads the variable
/// when it loads, so dlbench sets it and restarts itself once, unless the user chose a wait
/// policy. Every result records the variables (context.environment).
void tune_openmp_waiting(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT") ||
      std::getenv("DLBENCH_OPENMP_TUNED")) {
    return;
  }
  setenv("GOMP_SPINCOUNT", "10000", 1);
  setenv("DLBENCH_OPENMP_TUNED", "1", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then run untuned
}

}  // namespace

int main(int argc, char** argv) {
  tune_openmp_waiting(argv);
  try {
    return dlbench::run_cli(argc, argv);
  } catch (const dlbench::Error& e) {
    std::fprintf(stderr, "dlbench: error: %s\n",
                 dlbench::printable(e.what(), dlbench::kMaxMessageBytes).c_str());
    return dlbench::kExitUsage;
  } catch (const std::exception& e) {
    std::string message = e.what();
    std::fprintf(
        stderr, "dlbench: internal error: %s\n",
        dlbench::printable(message.substr(0, message.find('\n')), dlbench::kMaxMessageBytes)
            .c_str());
    return dlbench::kExitFailures;
  }
}
