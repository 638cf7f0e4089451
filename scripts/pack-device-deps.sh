#!/usr/bin/env bash
# Packs the Debian-provided dependencies that a machine without Debian's -dev packages needs to
# build dlbench (the lent GPU machine has PyTorch and CUDA but no package registry):
# header-only nlohmann-json and CLI11, yaml-cpp and fmt (headers, library, CMake config) and
# GoogleTest.
# The result mirrors /usr under DEST (default .devdeps, ignored by git); carry it to the
# GPU machine and build there with scripts/build-gpu.sh.
set -euo pipefail
dest=${1:-.devdeps}
cd "$(dirname "$0")/.."
scripts/install-deps.sh
multiarch=$(gcc -print-multiarch)
rm -rf "$dest"
mkdir -p "$dest/include" "$dest/lib/$multiarch/cmake"
for header_dir in nlohmann CLI yaml-cpp fmt gtest gmock; do
  cp -r "/usr/include/$header_dir" "$dest/include/"
done
for library in libyaml-cpp.so libyaml-cpp.so.0.7 libyaml-cpp.so.0.7.0 libfmt.so libfmt.so.9 \
               libfmt.so.9.1.0 libgtest.a libgtest_main.a \
               libgmock.a libgmock_main.a; do
  cp -a "/usr/lib/$multiarch/$library" "$dest/lib/$multiarch/"
done
for config in yaml-cpp fmt GTest; do
  cp -r "/usr/lib/$multiarch/cmake/$config" "$dest/lib/$multiarch/cmake/"
done
du -sh "$dest"
