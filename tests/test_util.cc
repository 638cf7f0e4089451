#include "test_util.h"

#include <stdlib.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace dlbench::testing {

RunOptions fast_options() {
  RunOptions o;
  o.warmup_steps = 1;
  o.warmup_time = 0;
  o.min_steps = 2;
  o.min_time = 0;
  o.repeats = 1;
  o.isolate = false;
  return o;
}

std::string temp_dir() {
  char pattern[] = "/tmp/dlbench-test-XXXXXX";
  if (!mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

static std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Command dlbench(const std::string& args) {
  std::string dir = temp_dir();
  std::string command =
      std::string(DLBENCH_BINARY) + " " + args + " >" + dir + "/out 2>" + dir + "/err </dev/null";
  int status = std::system(command.c_str());
  Command result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = slurp(dir + "/out");
  result.err = slurp(dir + "/err");
  return result;
}

size_t count_lines(const std::string& text) {
  size_t lines = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines += !line.empty();
  return lines;
}

}  // namespace dlbench::testing
