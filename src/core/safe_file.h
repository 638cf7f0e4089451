// Writing files so that nothing can break them: a file written into place goes first into a
// temporary file with a unique name in its directory (O_EXCL, never following a symlink), is
// synced, then renamed over a regular file only; a symlink is followed to its target, which is
// replaced while the link stays. Character devices, FIFOs and "-" (standard output) are written
// directly; directories are refused. Locks (flock on a sidecar file) keep two writers of one
// file apart. Every failure is one Error naming the file and the system's reason.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace dlbench {

/// What a path names when dlbench is about to write it.
enum class PathKind {
  kMissing,    ///< nothing (or a dangling symlink): a new regular file is created
  kRegular,    ///< a regular file: replaced atomically
  kStream,     ///< "-" (standard output), a character device or a FIFO: written directly
  kDirectory,  ///< refused
  kOther,      ///< a socket or a block device: refused
};

/// Where a write to a path lands.
struct WriteTarget {
  PathKind kind = PathKind::kMissing;
  std::string path;        ///< as given
  std::string resolved;    ///< the file created or replaced, symlinks followed (else `path`)
  bool to_stdout = false;  ///< a stream that is this process's standard output
  std::string problem;     ///< for kDirectory and kOther: why it cannot be written
};

/// Inspects `path` for writing: follows symlinks (also dangling ones, to the name they point
/// at), tells a file from a stream, and treats "-" and a path naming this process's standard
/// output (/dev/stdout) as standard output. Never throws.
WriteTarget inspect_write_target(const std::string& path);

/// How a file is written.
struct WriteOptions {
  mode_t mode = 0644;  ///< mode of a new file (before the umask); a replaced file keeps its own
  bool sync = true;    ///< fsync the file (and its directory after the rename)
  std::string what = "file";  ///< what the file is, for messages ("results file")
};

/// Writes `contents` to `path`: a regular or new file atomically (see AtomicFile), a stream
/// directly, a directory or socket never. Throws Error "cannot write <what> '<path>': <reason>".
void write_file(const std::string& path, std::string_view contents,
                const WriteOptions& options = {});

/// A file being written into place: the bytes go to a temporary file with a unique name in the
/// directory of the target (symlinks followed), created with O_EXCL | O_NOFOLLOW, so nothing
/// planted there is followed or overwritten. commit() flushes, fsyncs and renames it over the
/// target; without commit() the destructor removes it and the target is untouched. The target
/// must be a regular file or missing: anything else is an Error.
class AtomicFile {
 public:
  /// Creates the temporary file for `target`. Throws Error naming `target` and the reason.
  explicit AtomicFile(const std::string& target, const WriteOptions& options = {});
  /// Removes the temporary file unless commit() succeeded.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  /// Appends bytes (buffered). Throws Error naming the target on a failed write (ENOSPC...).
  void write(const void* data, size_t size);
  /// Appends text.
  void write(std::string_view text) { write(text.data(), text.size()); }
  /// Flushes, fsyncs (WriteOptions::sync), then renames over the target (refused if the target
  /// became something other than a regular file meanwhile). Throws Error on failure, leaving
  /// the target as it was.
  void commit();

  /// The file that commit() replaces or creates (symlinks followed).
  const std::string& target() const { return target_; }
  /// The temporary file's path (empty after commit).
  const std::string& temporary() const { return temporary_; }

 private:
  void flush();
  [[noreturn]] void fail(const std::string& reason);

  std::string path_;  // as given, for messages
  std::string target_;
  std::string temporary_;
  WriteOptions options_;
  int fd_ = -1;
  std::string buffer_;
};

/// An exclusive lock on a path (flock on the sidecar file `<dir>/.<name>.lock`), held until
/// destruction, when the sidecar is removed. The sidecar is created O_NOFOLLOW, and after
/// locking it is checked to still be the file at that path, so a holder that just removed it
/// cannot be joined by two new ones. It holds "pid N" of its holder, for messages.
class FileLock {
 public:
  /// Takes the lock on `path` unless another process holds it: then returns nullptr and, when
  /// `holder` is given, sets it to what the holder wrote ("pid 1234"). Throws Error when the
  /// sidecar cannot be created (naming it and the reason).
  static std::unique_ptr<FileLock> try_acquire(const std::string& path,
                                               std::string* holder = nullptr);
  /// Takes the lock on `path`, waiting for another holder to release it.
  static std::unique_ptr<FileLock> acquire(const std::string& path);
  /// The sidecar file that locks `path`.
  static std::string sidecar(const std::string& path);

  /// Removes the sidecar and releases the lock.
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  FileLock(std::string sidecar, int fd) : sidecar_(std::move(sidecar)), fd_(fd) {}
  static std::unique_ptr<FileLock> lock(const std::string& path, bool wait, std::string* holder);

  std::string sidecar_;
  int fd_ = -1;
};

/// Creates a new directory with a unique name `<parent>/<prefix>XXXXXX` (mkdtemp: mode 0700,
/// never an existing one) and returns its path. Throws Error naming `parent` and the reason.
std::string make_private_directory(const std::string& parent, const std::string& prefix);

/// Creates `path` and its missing parents (mode 0755 before the umask). Throws Error naming
/// the directory and the reason.
void make_directories(const std::string& path);

/// Removes a file or a directory tree, never following a symlink out of it. Best effort:
/// returns false if something could not be removed.
bool remove_tree(const std::string& path) noexcept;

/// Creates a new file `<dir>/<prefix>XXXXXXXX<suffix>` with a unique name (O_EXCL, mode 0644
/// before the umask), writes and fsyncs `contents`, and returns its path. Throws Error naming
/// the directory and the reason.
std::string write_unique_file(const std::string& dir, const std::string& prefix,
                              const std::string& suffix, std::string_view contents);

/// `name` made safe as one path component: characters other than [A-Za-z0-9._+-] become '_',
/// ".." and leading dots, dashes and underscores go, runs of '_' shrink to one, and the length
/// is at most `max_length`. An empty result gives `fallback`.
std::string safe_file_name(std::string_view name, size_t max_length = 80,
                           const std::string& fallback = "run");

/// Bytes an unprivileged user may still write on the file system holding `path` (statvfs), or
/// nullopt when it cannot be read.
std::optional<uint64_t> available_bytes(const std::string& path);

/// The directory temporary files go to: $TMPDIR when set, else /tmp.
std::string temp_directory();

/// Where workloads put bulk scratch data (io/storage's shards): $DLBENCH_SCRATCH_DIR (a
/// private directory an isolated problem's supervisor gives its child and removes after it,
/// however the child ended), else $DLBENCH_IO_DIR, else temp_directory().
std::string scratch_directory();

/// The text of errno `error` (strerror).
std::string system_reason(int error);

}  // namespace dlbench
