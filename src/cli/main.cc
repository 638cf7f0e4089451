// dlbench entry point: everything lives in run_cli; this turns stray exceptions into one line.
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  try {
    return dlbench::run_cli(argc, argv);
  } catch (const dlbench::Error& e) {
    std::fprintf(stderr, "dlbench: error: %s\n", e.what());
    return dlbench::kExitUsage;
  } catch (const std::exception& e) {
    std::string message = e.what();
    std::fprintf(stderr, "dlbench: internal error: %s\n",
                 message.substr(0, message.find('\n')).c_str());
    return dlbench::kExitFailures;
  }
}
