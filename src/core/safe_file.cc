#include "core/safe_file.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/error.h"

namespace dlbench {
namespace {

constexpr size_t kBufferBytes = 1 << 20;
constexpr int kMaxSymlinkHops = 40;
constexpr int kNameAttempts = 100;
constexpr size_t kMaxBaseInTemporary = 180;  // the temporary's name stays below NAME_MAX

std::string directory_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

/// `count` random characters from [a-z0-9] (getrandom; the clock and pid if that fails).
std::string random_token(size_t count) {
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::vector<unsigned char> bytes(count);
  if (getrandom(bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
    uint64_t state =
        static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
        (static_cast<uint64_t>(::getpid()) << 32);
    for (auto& b : bytes) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      b = static_cast<unsigned char>(state >> 56);
    }
  }
  std::string token;
  for (unsigned char b : bytes) token += kChars[b % (sizeof(kChars) - 1)];
  return token;
}

/// Writes every byte to `fd`; returns 0 or the errno of the failure.
int write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return 0;
}

/// Creates a new file `<dir>/<prefix><token><suffix>` with O_EXCL | O_NOFOLLOW; returns its fd
/// and sets `path`, or -1 with errno set.
int create_unique(const std::string& dir, const std::string& prefix, const std::string& suffix,
                  mode_t mode, std::string& path) {
  for (int attempt = 0; attempt < kNameAttempts; ++attempt) {
    path = dir + "/" + prefix + random_token(8) + suffix;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  errno = EEXIST;
  return -1;
}

void sync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);  // best effort: some file systems refuse it
  ::close(fd);
}

std::string kind_problem(mode_t mode) {
  if (S_ISDIR(mode)) return "it is a directory; give a file name";
  if (S_ISSOCK(mode)) return "it is a socket; give a regular file, a character device, a FIFO or -";
  if (S_ISBLK(mode)) {
    return "it is a block device; give a regular file, a character device, a FIFO or -";
  }
  return "it is not a regular file, a character device or a FIFO";
}

std::string describe(const WriteOptions& options, const std::string& path) {
  return "cannot write " + options.what + " '" + path + "'";
}

}  // namespace

std::string system_reason(int error) { return std::strerror(error); }

WriteTarget inspect_write_target(const std::string& path) {
  WriteTarget target;
  target.path = path;
  target.resolved = path;
  if (path == "-") {
    target.kind = PathKind::kStream;
    target.to_stdout = true;
    return target;
  }
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0) {
    if (S_ISCHR(info.st_mode) || S_ISFIFO(info.st_mode) || S_ISREG(info.st_mode)) {
      struct stat out {};
      target.to_stdout = ::fstat(STDOUT_FILENO, &out) == 0 && out.st_dev == info.st_dev &&
                         out.st_ino == info.st_ino;
    }
    if (S_ISCHR(info.st_mode) || S_ISFIFO(info.st_mode) || target.to_stdout) {
      target.kind = PathKind::kStream;
    } else if (S_ISREG(info.st_mode)) {
      target.kind = PathKind::kRegular;
      struct stat link {};
      if (::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode)) {
        char* real = ::realpath(path.c_str(), nullptr);
        if (real) {
          target.resolved = real;
          std::free(real);
        }
      }
    } else {
      target.kind = S_ISDIR(info.st_mode) ? PathKind::kDirectory : PathKind::kOther;
      target.problem = kind_problem(info.st_mode);
    }
    return target;
  }
  // Nothing there, or a dangling symlink: follow the links to the name they end at.
  target.kind = PathKind::kMissing;
  std::string current = path;
  for (int hop = 0; hop < kMaxSymlinkHops; ++hop) {
    struct stat link {};
    if (::lstat(current.c_str(), &link) != 0 || !S_ISLNK(link.st_mode)) break;
    std::vector<char> buffer(PATH_MAX + 1);
    ssize_t n = ::readlink(current.c_str(), buffer.data(), buffer.size() - 1);
    if (n <= 0) break;
    std::string next(buffer.data(), static_cast<size_t>(n));
    current = next[0] == '/' ? next : directory_of(current) + "/" + next;
  }
  target.resolved = current;
  return target;
}

AtomicFile::AtomicFile(const std::string& target, const WriteOptions& options)
    : path_(target), options_(options) {
  WriteTarget where = inspect_write_target(target);
  if (where.kind == PathKind::kStream) {
    throw Error(describe(options_, path_) +
                ": it is not a regular file (a device, a FIFO or standard output)");
  }
  if (where.kind == PathKind::kDirectory || where.kind == PathKind::kOther) {
    throw Error(describe(options_, path_) + ": " + where.problem);
  }
  target_ = where.resolved;
  std::string base = base_of(target_);
  if (base.empty() || base == "." || base == "..") {
    throw Error(describe(options_, path_) + ": not a file name");
  }
  if (base.size() > kMaxBaseInTemporary) base.resize(kMaxBaseInTemporary);
  fd_ = create_unique(directory_of(target_), "." + base + ".", ".tmp", options_.mode, temporary_);
  if (fd_ < 0) {
    int saved = errno;
    temporary_.clear();
    throw Error(describe(options_, path_) + ": " + system_reason(saved));
  }
  // A replaced file keeps its mode (and, for root, its owner).
  struct stat info {};
  if (where.kind == PathKind::kRegular && ::stat(target_.c_str(), &info) == 0) {
    ::fchmod(fd_, info.st_mode & 07777);
    if (::geteuid() == 0 && ::fchown(fd_, info.st_uid, info.st_gid) != 0) {
      // best effort: the file stays root's
    }
  }
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!temporary_.empty()) ::unlink(temporary_.c_str());
}

void AtomicFile::fail(const std::string& reason) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temporary_.empty()) ::unlink(temporary_.c_str());
  temporary_.clear();
  buffer_.clear();
  throw Error(describe(options_, path_) + ": " + reason);
}

void AtomicFile::flush() {
  if (buffer_.empty()) return;
  if (fd_ < 0) fail("the file was already committed or abandoned");
  int error = write_all(fd_, buffer_.data(), buffer_.size());
  buffer_.clear();
  if (error != 0) fail(system_reason(error));
}

void AtomicFile::write(const void* data, size_t size) {
  if (fd_ < 0) fail("the file was already committed or abandoned");
  if (buffer_.size() + size > kBufferBytes) {
    flush();
    if (size >= kBufferBytes) {
      int error = write_all(fd_, static_cast<const char*>(data), size);
      if (error != 0) fail(system_reason(error));
      return;
    }
  }
  buffer_.append(static_cast<const char*>(data), size);
}

void AtomicFile::commit() {
  flush();
  if (fd_ < 0) fail("the file was already committed or abandoned");
  if (options_.sync && ::fsync(fd_) != 0 && errno != EINVAL && errno != EROFS) {
    fail(system_reason(errno));
  }
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail(system_reason(errno));
  // Replace a regular file only, even if the target changed since the temporary was made.
  struct stat info {};
  if (::lstat(target_.c_str(), &info) == 0 && !S_ISREG(info.st_mode)) {
    fail(S_ISLNK(info.st_mode) ? "it became a symlink while it was written"
                               : kind_problem(info.st_mode));
  }
  if (::rename(temporary_.c_str(), target_.c_str()) != 0) fail(system_reason(errno));
  temporary_.clear();
  if (options_.sync) sync_directory(directory_of(target_));
}

void write_file(const std::string& path, std::string_view contents, const WriteOptions& options) {
  WriteTarget target = inspect_write_target(path);
  switch (target.kind) {
    case PathKind::kDirectory:
    case PathKind::kOther:
      throw Error(describe(options, path) + ": " + target.problem);
    case PathKind::kStream: {
      int fd =
          target.to_stdout ? STDOUT_FILENO : ::open(path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
      if (fd < 0) throw Error(describe(options, path) + ": " + system_reason(errno));
      if (target.to_stdout) std::fflush(stdout);
      // A reader that went away is an error to report (EPIPE), not a signal that kills the
      // process with the results still unsaved.
      struct sigaction ignore {
      }, previous{};
      ignore.sa_handler = SIG_IGN;
      sigemptyset(&ignore.sa_mask);
      ::sigaction(SIGPIPE, &ignore, &previous);
      int error = write_all(fd, contents.data(), contents.size());
      ::sigaction(SIGPIPE, &previous, nullptr);
      if (fd != STDOUT_FILENO) ::close(fd);
      if (error != 0) throw Error(describe(options, path) + ": " + system_reason(error));
      return;
    }
    case PathKind::kMissing:
    case PathKind::kRegular: {
      AtomicFile file(path, options);
      file.write(contents);
      file.commit();
      return;
    }
  }
}

std::string FileLock::sidecar(const std::string& path) {
  std::string dir = directory_of(path);
  return (dir == "/" ? "" : dir) + "/." + base_of(path) + ".lock";
}

std::unique_ptr<FileLock> FileLock::try_acquire(const std::string& path, std::string* holder) {
  return lock(path, false, holder);
}

std::unique_ptr<FileLock> FileLock::acquire(const std::string& path) {
  return lock(path, true, nullptr);
}

std::unique_ptr<FileLock> FileLock::lock(const std::string& path, bool wait, std::string* holder) {
  const std::string name = sidecar(path);
  for (int attempt = 0; attempt < kNameAttempts; ++attempt) {
    int fd = ::open(name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
      throw Error("cannot lock '" + path + "': cannot create '" + name + "': " +
                  system_reason(errno) + (errno == ELOOP ? " (it is a symlink; remove it)" : ""));
    }
    int rc;
    while ((rc = ::flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB))) != 0 && errno == EINTR) {
    }
    if (rc != 0) {
      int saved = errno;
      if (saved == EWOULDBLOCK && !wait) {
        if (holder) {
          char text[128] = {};
          ssize_t n = ::pread(fd, text, sizeof(text) - 1, 0);
          std::string said = n > 0 ? std::string(text, static_cast<size_t>(n)) : "";
          while (!said.empty() && (said.back() == '\n' || said.back() == ' ')) said.pop_back();
          *holder = said.empty() ? "another process" : said;
        }
        ::close(fd);
        return nullptr;
      }
      ::close(fd);
      throw Error("cannot lock '" + path + "' (" + name + "): " + system_reason(saved));
    }
    // The holder before us may have removed the sidecar as it released it: then the file we
    // locked is no longer the one at that path, and we start again.
    struct stat locked {
    }, named{};
    if (::fstat(fd, &locked) == 0 && ::lstat(name.c_str(), &named) == 0 &&
        locked.st_dev == named.st_dev && locked.st_ino == named.st_ino) {
      std::string text = "pid " + std::to_string(::getpid()) + "\n";
      if (::ftruncate(fd, 0) == 0) {
        ssize_t written = ::pwrite(fd, text.data(), text.size(), 0);
        (void)written;  // only for messages: a lock without its pid still locks
      }
      return std::unique_ptr<FileLock>(new FileLock(name, fd));
    }
    ::close(fd);
  }
  throw Error("cannot lock '" + path + "': its lock file '" + name + "' keeps changing");
}

FileLock::~FileLock() {
  // Removed while still held: a waiter that locked the removed file notices and retries.
  ::unlink(sidecar_.c_str());
  ::close(fd_);
}

std::string make_private_directory(const std::string& parent, const std::string& prefix) {
  std::string pattern = parent + "/" + prefix + "XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (!::mkdtemp(buffer.data())) {
    throw Error("cannot create a private directory in '" + parent + "': " + system_reason(errno));
  }
  return buffer.data();
}

void make_directories(const std::string& path) {
  std::error_code error;
  std::filesystem::create_directories(path, error);
  if (error) {
    throw Error("cannot create the directory '" + path + "': " + error.message());
  }
}

bool remove_tree(const std::string& path) noexcept {
  if (path.empty()) return true;
  std::error_code error;
  std::filesystem::remove_all(path, error);  // removes symlinks, never what they point at
  return !error;
}

std::string write_unique_file(const std::string& dir, const std::string& prefix,
                              const std::string& suffix, std::string_view contents) {
  std::string path;
  int fd = create_unique(dir, prefix, suffix, 0644, path);
  if (fd < 0) {
    throw Error("cannot create a file in '" + dir + "': " + system_reason(errno));
  }
  int error = write_all(fd, contents.data(), contents.size());
  if (error == 0 && ::fsync(fd) != 0 && errno != EINVAL) error = errno;
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error != 0) {
    ::unlink(path.c_str());
    throw Error("cannot write '" + path + "': " + system_reason(error));
  }
  return path;
}

std::string safe_file_name(std::string_view name, size_t max_length, const std::string& fallback) {
  std::string mapped;
  for (char c : name) {
    bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '+' || c == '-';
    mapped += keep ? c : '_';
  }
  // No "..": every run of two or more dots becomes '_'.
  std::string out;
  for (size_t i = 0; i < mapped.size();) {
    if (mapped[i] == '.' && i + 1 < mapped.size() && mapped[i + 1] == '.') {
      while (i < mapped.size() && mapped[i] == '.') ++i;
      out += '_';
      continue;
    }
    if (!(mapped[i] == '_' && !out.empty() && out.back() == '_')) out += mapped[i];
    ++i;
  }
  size_t start = out.find_first_not_of("._-");
  out = start == std::string::npos ? "" : out.substr(start);
  if (out.size() > max_length) out.resize(max_length);
  while (!out.empty() && (out.back() == '.' || out.back() == '_')) out.pop_back();
  return out.empty() ? fallback : out;
}

std::optional<uint64_t> available_bytes(const std::string& path) {
  struct statvfs info {};
  if (::statvfs(path.c_str(), &info) != 0) return std::nullopt;
  return static_cast<uint64_t>(info.f_bavail) * static_cast<uint64_t>(info.f_frsize);
}

std::string temp_directory() {
  const char* dir = std::getenv("TMPDIR");
  return dir && *dir ? dir : "/tmp";
}

std::string scratch_directory() {
  for (const char* name : {"DLBENCH_SCRATCH_DIR", "DLBENCH_IO_DIR"}) {
    const char* dir = std::getenv(name);
    if (dir && *dir) return dir;
  }
  return temp_directory();
}

}  // namespace dlbench
