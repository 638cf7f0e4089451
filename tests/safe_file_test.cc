// Writing files safely (core/safe_file.h) and keeping a run's results (harness/results_output.h):
// regular files replaced atomically, symlinks followed and kept, planted temporary files without
// effect, devices and FIFOs written directly, directories refused, one writer per file,
// results that survive a full file system, and generated caches that appear whole and once.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/result.h"
#include "core/safe_file.h"
#include "harness/results_output.h"
#include "test_util.h"
#include "workloads/common/image_sets.h"

namespace dlbench {
namespace {

namespace fs = std::filesystem;

using testing::mode_of;
using testing::names_in;
using testing::read_fifo;
using testing::read_text;

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

/// A small tmpfs mounted for one test (we run as root in CI); ok() is false where mounting is
/// not possible.
class SmallTmpfs {
 public:
  explicit SmallTmpfs(const std::string& size) : dir_(testing::temp_dir()) {
    mounted_ = ::mount("tmpfs", dir_.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
    if (!mounted_) reason_ = std::strerror(errno);
  }
  ~SmallTmpfs() {
    if (mounted_ && ::umount(dir_.c_str()) != 0) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool ok() const { return mounted_; }
  const std::string& reason() const { return reason_; }
  const std::string& dir() const { return dir_; }
  /// Fills the file system with one file until no byte is left.
  void fill(const std::string& name) {
    int fd = ::open((dir_ + "/" + name).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    std::string block(4096, 'x');
    while (::write(fd, block.data(), block.size()) > 0) {
    }
    while (::write(fd, block.data(), 1) > 0) {
    }
    ::close(fd);
  }

 private:
  std::string dir_;
  std::string reason_;
  bool mounted_ = false;
};

Result tiny_result(int index) {
  Result result;
  result.problem = "test/sleep ms=" + std::to_string(index);
  result.workload = "test/sleep";
  result.status = Status::kPassed;
  result.set_metric("step_time", 0.001 * index, "s", "lower");
  result.notes.push_back(std::string(2000, 'n'));  // a few KiB per result
  return result;
}

TEST(SafeFile, ReplacesARegularFileAndLeavesNothingBehind) {
  std::string dir = testing::temp_dir();
  std::string path = dir + "/out.json";
  testing::write_file(path, "old");
  ::chmod(path.c_str(), 0640);
  write_file(path, "new contents");
  EXPECT_EQ(read_text(path), "new contents");
  EXPECT_TRUE(S_ISREG(mode_of(path)));
  EXPECT_EQ(mode_of(path) & 07777, 0640u) << "a replaced file keeps its mode";
  EXPECT_EQ(names_in(dir), std::vector<std::string>{"out.json"});
}

TEST(SafeFile, NewFilesAreReadableByOthers) {
  std::string dir = testing::temp_dir();
  mode_t mask = ::umask(022);
  write_file(dir + "/new.json", "{}");
  ::umask(mask);
  EXPECT_EQ(mode_of(dir + "/new.json") & 07777, 0644u);
}

TEST(SafeFile, FollowsASymlinkReplacesItsTargetAndKeepsTheLink) {
  std::string targets = testing::temp_dir();
  std::string links = testing::temp_dir();
  std::string target = targets + "/results.json";
  std::string link = links + "/latest.json";
  testing::write_file(target, "old");
  fs::create_symlink(target, link);
  write_file(link, "through the link");
  EXPECT_TRUE(S_ISLNK(mode_of(link))) << "the link was replaced";
  EXPECT_EQ(fs::read_symlink(link).string(), target);
  EXPECT_EQ(read_text(target), "through the link");
  EXPECT_EQ(names_in(targets), std::vector<std::string>{"results.json"});
  EXPECT_EQ(names_in(links), std::vector<std::string>{"latest.json"});

  // A relative link whose target does not exist yet: the target is created, the link stays.
  fs::create_symlink("../" + fs::path(targets).filename().string() + "/new.json",
                     links + "/dangling.json");
  write_file(links + "/dangling.json", "created");
  EXPECT_TRUE(S_ISLNK(mode_of(links + "/dangling.json")));
  EXPECT_EQ(read_text(targets + "/new.json"), "created");
}

TEST(SafeFile, PlantedTemporaryNamesAreNeverFollowed) {
  std::string dir = testing::temp_dir();
  std::string victim = testing::temp_dir() + "/victim";
  testing::write_file(victim, "precious");
  // The names a writer might predict: NAME.tmp, NAME.tmp.PID, NAME.partial.
  for (const std::string& name :
       std::vector<std::string>{"chart.svg.tmp", "out.json.tmp", "out.json.partial",
                                "out.json.tmp." + std::to_string(::getpid())}) {
    fs::create_symlink(victim, dir + "/" + name);
  }
  write_file(dir + "/chart.svg", "<svg/>");
  write_file(dir + "/out.json", "{}");
  AtomicFile file(dir + "/big.bin");
  file.write(std::string(3 << 20, 'b'));
  file.commit();
  EXPECT_EQ(read_text(victim), "precious");
  EXPECT_EQ(read_text(dir + "/chart.svg"), "<svg/>");
  EXPECT_EQ(fs::file_size(dir + "/big.bin"), 3u << 20);
}

TEST(SafeFile, AbandonedFileLeavesTheTargetUntouched) {
  std::string dir = testing::temp_dir();
  testing::write_file(dir + "/keep.txt", "before");
  {
    AtomicFile file(dir + "/keep.txt");
    file.write("half of it");
    EXPECT_EQ(fs::path(file.temporary()).parent_path().string(), dir);
  }
  EXPECT_EQ(read_text(dir + "/keep.txt"), "before");
  EXPECT_EQ(names_in(dir), std::vector<std::string>{"keep.txt"});
}

TEST(SafeFile, WritesAFifoDirectly) {
  std::string fifo = testing::temp_dir() + "/results.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string received;
  std::thread reader([&] { received = read_fifo(fifo); });
  EXPECT_NO_THROW(write_file(fifo, "through the pipe\n"));
  reader.join();
  EXPECT_EQ(received, "through the pipe\n");
  EXPECT_TRUE(S_ISFIFO(mode_of(fifo))) << "the FIFO was replaced";
  EXPECT_EQ(inspect_write_target(fifo).kind, PathKind::kStream);
}

TEST(SafeFile, DevNullStaysACharacterDevice) {
  EXPECT_EQ(inspect_write_target("/dev/null").kind, PathKind::kStream);
  write_file("/dev/null", "nothing");
  ResultsDocument document;
  document.results.push_back(tiny_result(1));
  document.save("/dev/null");
  EXPECT_TRUE(S_ISCHR(mode_of("/dev/null")));
  // A device that refuses the bytes is an error with the system's reason.
  std::string error = error_of([] { write_file("/dev/full", "x"); });
  EXPECT_NE(error.find("'/dev/full': No space left on device"), std::string::npos) << error;
  EXPECT_TRUE(S_ISCHR(mode_of("/dev/full")));
}

TEST(SafeFile, RefusesADirectoryWithTheReason) {
  std::string parent = testing::temp_dir();
  std::string dir = parent + "/chart";
  fs::create_directory(dir);
  std::string error = error_of([&] { write_file(dir, "<svg/>", {0644, true, "the chart"}); });
  EXPECT_EQ(error, "cannot write the chart '" + dir + "': it is a directory; give a file name");
  EXPECT_EQ(names_in(parent), std::vector<std::string>{"chart"});
  EXPECT_TRUE(fs::is_empty(dir));
  EXPECT_EQ(inspect_write_target(dir).kind, PathKind::kDirectory);
  EXPECT_THROW(AtomicFile{dir}, Error);
  // A directory that cannot be written names the system's reason too.
  error = error_of([] { write_file("/nonexistent-dir/x.json", "{}"); });
  EXPECT_NE(error.find("No such file or directory"), std::string::npos) << error;
}

TEST(SafeFile, SecondLockOnAFileIsRefusedUntilTheFirstEnds) {
  std::string dir = testing::temp_dir();
  std::string path = dir + "/results.json";
  std::unique_ptr<FileLock> first = FileLock::try_acquire(path);
  ASSERT_TRUE(first);
  std::string holder;
  EXPECT_FALSE(FileLock::try_acquire(path, &holder));
  EXPECT_EQ(holder, "pid " + std::to_string(::getpid()));
  first.reset();
  EXPECT_FALSE(fs::exists(FileLock::sidecar(path))) << "the lock file is removed on release";
  EXPECT_TRUE(FileLock::try_acquire(path));

  // A waiting writer gets the lock when the holder ends.
  std::unique_ptr<FileLock> held = FileLock::try_acquire(path);
  ASSERT_TRUE(held);
  auto start = std::chrono::steady_clock::now();
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    held.reset();
  });
  std::unique_ptr<FileLock> waited = FileLock::acquire(path);
  release.join();
  EXPECT_TRUE(waited);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(150));
}

TEST(SafeFile, LockFileThatIsASymlinkIsNotFollowed) {
  std::string dir = testing::temp_dir();
  std::string victim = testing::temp_dir() + "/victim";
  testing::write_file(victim, "precious");
  fs::create_symlink(victim, FileLock::sidecar(dir + "/r.json"));
  std::string error = error_of([&] { FileLock::try_acquire(dir + "/r.json"); });
  EXPECT_NE(error.find("symlink"), std::string::npos) << error;
  EXPECT_EQ(read_text(victim), "precious");
}

TEST(SafeFile, SafeNamesStayInOneDirectory) {
  EXPECT_EQ(safe_file_name("../../../x"), "x");
  EXPECT_EQ(safe_file_name("quick+micro"), "quick+micro");
  EXPECT_EQ(safe_file_name("deepbench/gemm-train"), "deepbench_gemm-train");
  EXPECT_EQ(safe_file_name(".hidden"), "hidden");
  EXPECT_EQ(safe_file_name("a..b"), "a_b");
  EXPECT_EQ(safe_file_name(".."), "run");
  EXPECT_EQ(safe_file_name(""), "run");
  EXPECT_EQ(safe_file_name("/etc/passwd"), "etc_passwd");
  EXPECT_EQ(safe_file_name("name with spaces\nand a newline"), "name_with_spaces_and_a_newline");
  EXPECT_EQ(safe_file_name(std::string(500, 'a')).size(), 80u);
  for (const char* hostile : {"../x", "a/../../b", "...", "-rf", "x/.."}) {
    std::string safe = safe_file_name(hostile);
    ASSERT_FALSE(safe.empty()) << hostile;
    EXPECT_EQ(safe.find('/'), std::string::npos) << hostile;
    EXPECT_EQ(safe.find(".."), std::string::npos) << hostile;
    EXPECT_NE(safe[0], '.') << hostile;
    EXPECT_NE(safe[0], '-') << hostile;
  }
}

TEST(SafeFile, PrivateDirectoriesAreUniqueAndRemovedWithoutFollowingLinks) {
  std::string parent = testing::temp_dir();
  std::string a = make_private_directory(parent, "scratch-");
  std::string b = make_private_directory(parent, "scratch-");
  EXPECT_NE(a, b);
  EXPECT_EQ(mode_of(a) & 07777, 0700u);
  std::string outside = testing::temp_dir();
  testing::write_file(outside + "/keep", "keep");
  fs::create_symlink(outside, a + "/link");
  fs::create_directories(a + "/deep/er");
  testing::write_file(a + "/deep/er/file", "x");
  EXPECT_TRUE(remove_tree(a));
  EXPECT_FALSE(fs::exists(a));
  EXPECT_EQ(read_text(outside + "/keep"), "keep");
}

TEST(SafeFile, FullFileSystemKeepsTheOldFileAndSaysWhy) {
  SmallTmpfs tmpfs("64k");
  if (!tmpfs.ok()) GTEST_SKIP() << "cannot mount a tmpfs here (" << tmpfs.reason() << ")";
  std::string path = tmpfs.dir() + "/out.json";
  write_file(path, "old");
  std::string error = error_of([&] { write_file(path, std::string(256 << 10, 'x')); });
  EXPECT_EQ(error, "cannot write file '" + path + "': No space left on device");
  EXPECT_EQ(read_text(path), "old");
  EXPECT_EQ(names_in(tmpfs.dir()), std::vector<std::string>{"out.json"});
}

TEST(SafeFile, GeneratedImageFolderAppearsWholeAndOnce) {
  std::string data_dir = testing::temp_dir();
  testing::ScopedEnv env("DLBENCH_DATA_DIR", data_dir.c_str());
  common::LabelledImages set = common::generated_image_set(40, true, 0);
  // Two runs generating it at once take turns; both get the one complete folder.
  std::string first, second;
  std::thread other([&] { second = common::write_png_folder(set, "pngs"); });
  first = common::write_png_folder(set, "pngs");
  other.join();
  EXPECT_EQ(first, data_dir + "/generated/pngs");
  EXPECT_EQ(second, first);
  EXPECT_TRUE(fs::exists(first + "/.complete"));
  size_t images = 0;
  for (const auto& entry : fs::recursive_directory_iterator(first)) {
    images += entry.path().extension() == ".png";
  }
  EXPECT_EQ(images, 40u);
  EXPECT_EQ(mode_of(first) & 07777, 0755u);
  // Nothing else is left in generated/: no partial folder, no lock file.
  EXPECT_EQ(names_in(data_dir + "/generated"), std::vector<std::string>{"pngs"});
}

TEST(SafeFile, SecondRunOnOneResultsFileIsRefused) {
  std::string dir = testing::temp_dir();
  std::string path = dir + "/r.json";
  ResultsOutput first(path);
  std::string error = error_of([&] { ResultsOutput second(path); });
  EXPECT_EQ(error, "results file '" + path + "' is being written by another dlbench run (pid " +
                       std::to_string(::getpid()) +
                       "); give another --out, or run after it has finished");
  // The same file through a symlink is the same file.
  fs::create_symlink(path, dir + "/link.json");
  EXPECT_THROW(ResultsOutput{dir + "/link.json"}, Error);
  EXPECT_THROW(ResultsOutput{dir}, Error);  // a directory
  ResultsOutput device("/dev/null");        // devices are not locked
  EXPECT_FALSE(device.is_file());
}

TEST(SafeFile, ResultsSurviveAFullFileSystem) {
  SmallTmpfs tmpfs("64k");
  if (!tmpfs.ok()) GTEST_SKIP() << "cannot mount a tmpfs here (" << tmpfs.reason() << ")";
  std::string fallback_dir = testing::temp_dir();
  testing::ScopedEnv tmpdir("TMPDIR", fallback_dir.c_str());
  std::string path = tmpfs.dir() + "/r.json";
  std::vector<std::string> said;
  ResultsOutput output(path, [&](const std::string& line) { said.push_back(line); });
  ResultsDocument document;
  output.save_initial(document);
  document.results.push_back(tiny_result(1));
  EXPECT_TRUE(output.save(document, "result 1 of 4"));
  tmpfs.fill("filler");
  for (int i = 2; i <= 4; ++i) {
    document.results.push_back(tiny_result(i));
    EXPECT_FALSE(output.save(document, "result " + std::to_string(i) + " of 4"));
  }
  ASSERT_EQ(said.size(), 3u) << "one line per failed save";
  EXPECT_EQ(said[0], "dlbench: cannot write results file '" + path +
                         "': No space left on device; result 2 of 4 is not saved yet: kept in "
                         "memory, saved again later");
  EXPECT_EQ(ResultsDocument::load(path).results.size(), 1u) << "the last good save is intact";

  // Still full at the end: everything goes to a fallback file, and one line says where.
  EXPECT_FALSE(output.finish(document));
  ASSERT_EQ(said.size(), 4u);
  std::vector<std::string> fallback = names_in(fallback_dir);
  ASSERT_EQ(fallback.size(), 1u);
  std::string fallback_path = fallback_dir + "/" + fallback[0];
  EXPECT_EQ(said[3], "dlbench: error: cannot write results file '" + path +
                         "': No space left on device; the results (4 results) are in '" +
                         fallback_path + "'");
  EXPECT_EQ(ResultsDocument::load(fallback_path).results.size(), 4u);

  // Room again: the next save writes everything kept.
  fs::remove(tmpfs.dir() + "/filler");
  document.results.push_back(tiny_result(5));
  EXPECT_TRUE(output.save(document, "result 5 of 5"));
  EXPECT_EQ(ResultsDocument::load(path).results.size(), 5u);
  EXPECT_TRUE(output.finish(document));
}

}  // namespace
}  // namespace dlbench
