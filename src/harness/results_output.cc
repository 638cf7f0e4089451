#include "harness/results_output.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

#include "core/error.h"
#include "core/strings.h"

namespace dlbench {

namespace {

void say_on_stderr(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

std::string count_text(size_t results) {
  return fmt::format("{} result{}", results, results == 1 ? "" : "s");
}

}  // namespace

ResultsOutput::ResultsOutput(const std::string& path, Say say)
    : target_(inspect_write_target(path)), say_(say ? std::move(say) : Say(say_on_stderr)) {
  if (target_.kind == PathKind::kDirectory || target_.kind == PathKind::kOther) {
    throw Error("cannot write results file '" + path + "': " + target_.problem);
  }
  if (!is_file()) return;
  std::string holder;
  lock_ = FileLock::try_acquire(target_.resolved, &holder);
  if (!lock_) {
    throw Error("results file '" + path + "' is being written by another dlbench run (" + holder +
                "); give another --out, or run after it has finished");
  }
}

bool ResultsOutput::is_file() const {
  return target_.kind == PathKind::kRegular || target_.kind == PathKind::kMissing;
}

std::string ResultsOutput::text(const ResultsDocument& document) const {
  return document.to_json().dump(1) + "\n";
}

void ResultsOutput::save_initial(const ResultsDocument& document) {
  if (is_file()) {
    document.save(target_.path);
    return;
  }
  if (target_.to_stdout || target_.kind != PathKind::kStream) return;
  // A device must open now; a FIFO is opened when the results are written (opening it waits
  // for a reader).
  struct stat info {};
  if (::stat(target_.path.c_str(), &info) == 0 && S_ISCHR(info.st_mode)) {
    int fd = ::open(target_.path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
      throw Error("cannot write results file '" + target_.path + "': " + system_reason(errno));
    }
    ::close(fd);
  }
}

bool ResultsOutput::save(const ResultsDocument& document, const std::string& what) {
  if (!is_file()) return true;
  try {
    document.save(target_.path);
  } catch (const Error& e) {
    unsaved_ = true;
    ++failed_saves_;
    say_(std::string("dlbench: ") + e.what() + "; " + what +
         " is not saved yet: kept in memory, saved again later");
    return false;
  }
  if (unsaved_) {
    say_("dlbench: results file '" + target_.path + "' saved again, with " +
         count_text(document.results.size()));
  }
  unsaved_ = false;
  return true;
}

bool ResultsOutput::finish(const ResultsDocument& document) {
  std::string reason;
  if (is_file() && !unsaved_) return true;
  try {
    document.save(target_.path);
    if (unsaved_) {
      say_("dlbench: results file '" + target_.path + "' saved at the end, with " +
           count_text(document.results.size()) + " (" + std::to_string(failed_saves_) +
           " earlier save(s) failed)");
    }
    unsaved_ = false;
    return true;
  } catch (const Error& e) {
    reason = e.what();
  }
  unsaved_ = true;
  const std::string contents = text(document);
  std::vector<std::string> places = {temp_directory()};
  if (places[0] != "/tmp") places.push_back("/tmp");
  places.push_back(".");
  for (const std::string& dir : places) {
    try {
      std::string fallback = write_unique_file(dir, "dlbench-results-", ".json", contents);
      say_("dlbench: error: " + reason + "; the results (" + count_text(document.results.size()) +
           ") are in '" + fallback + "'");
      return false;
    } catch (const Error&) {
    }
  }
  say_("dlbench: error: " + reason + "; no fallback file could be written either (in " +
       join(places, ", ") + "): the results follow on standard error");
  std::fwrite(contents.data(), 1, contents.size(), stderr);
  std::fflush(stderr);
  return false;
}

}  // namespace dlbench
