// Where a run's results go, and the rules that keep them: one writer per file (a lock held for
// the whole run), a save after every problem, and results that survive a failed save (a full
// disk): they stay in memory, are saved again, and at the end go to a fallback file if the
// asked-for one still cannot be written. See docs/result-schema.md ("Where results are written").
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/result.h"
#include "core/safe_file.h"

namespace dlbench {

/// The results file (or stream) of one run.
class ResultsOutput {
 public:
  /// Receives the one-line messages (failed saves, the fallback file); stderr by default.
  using Say = std::function<void(const std::string&)>;

  /// Prepares writing to `path` ("-" is standard output). A file (new, regular, or the target
  /// of a symlink) is locked for the life of this object; a character device, a FIFO or
  /// standard output is written once, by finish(). Throws Error (one line naming the file) for
  /// a directory, a socket or a block device, and when another run holds the file's lock.
  explicit ResultsOutput(const std::string& path, Say say = nullptr);

  /// The path as given.
  const std::string& path() const { return target_.path; }
  /// True when the results go to a file, saved after every problem (else to a stream).
  bool is_file() const;
  /// True when the results go to this process's standard output.
  bool to_stdout() const { return target_.to_stdout; }

  /// The first save, before anything is measured: throws Error when the file cannot be
  /// written (nothing is lost yet). For a stream it only checks that a device can be opened.
  void save_initial(const ResultsDocument& document);
  /// Saves after a problem. A failure does not stop the run: one line says why, and that
  /// `what` (e.g. "result 9 of 12 (micro/gemm ...)") is kept in memory; the next save (or
  /// finish()) writes it.
  /// Returns true when saved (always, for a stream: it is written by finish()).
  bool save(const ResultsDocument& document, const std::string& what);
  /// The last save: writes a stream, or saves the file again if an earlier save failed. If the
  /// results still cannot be written, they go to a new file in temp_directory() (else /tmp,
  /// else the working directory) and one line says where. Returns true when the results are
  /// where they were asked to be.
  bool finish(const ResultsDocument& document);

 private:
  std::string text(const ResultsDocument& document) const;

  WriteTarget target_;
  std::unique_ptr<FileLock> lock_;
  Say say_;
  bool unsaved_ = false;  ///< the last save failed
  int failed_saves_ = 0;
};

}  // namespace dlbench
