#!/usr/bin/env bash
# Builds dlbench with CUDA against the LibTorch inside the machine's PyTorch wheel, using the
# dependencies packed by scripts/pack-device-deps.sh (default .devdeps). Run on the GPU machine:
#   scripts/build-gpu.sh && build-cuda/dlbench run --suite micro-cuda
set -euo pipefail
cd "$(dirname "$0")/.."
deps=$(realpath "${DLBENCH_DEPS_PREFIX:-.devdeps}")
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B build-cuda "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$torch_prefix;$deps" -DDLBENCH_DEPS_PREFIX="$deps" \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_CUDA_COMPILER="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)"
cmake --build build-cuda -j "$(nproc)"
