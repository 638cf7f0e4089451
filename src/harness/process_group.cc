#include "harness/process_group.h"

#include <arpa/inet.h>
#include <fmt/core.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "core/error.h"
#include "core/strings.h"

namespace dlbench::dist {

namespace {

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

/// The local address this host uses to reach `peer` (the source address the kernel picks for a
/// route to it): Gloo binds there, so ranks in network namespaces or on multi-homed hosts
/// listen on the interface their peers can reach. Empty when it cannot be found.
std::string local_address_towards(const std::string& peer) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(peer.c_str(), "9", &hints, &found) != 0 || !found) return "";
  std::string address;
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd >= 0) {
    // A UDP connect sends nothing: it only picks the route and the source address.
    if (::connect(fd, found->ai_addr, found->ai_addrlen) == 0) {
      sockaddr_in local{};
      socklen_t length = sizeof(local);
      char text[INET_ADDRSTRLEN] = {};
      if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0 &&
          inet_ntop(AF_INET, &local.sin_addr, text, sizeof(text))) {
        address = text;
      }
    }
    ::close(fd);
  }
  freeaddrinfo(found);
  return address;
}

}  // namespace

// ---- Rendezvous ----

Rendezvous::Rendezvous(const RankInfo& info, double timeout_s) : info_(info) {
  c10d::TCPStoreOptions options;
  options.port = static_cast<uint16_t>(info.master_port);
  options.isServer = info.rank == 0;
  options.waitWorkers = false;
  options.timeout = to_ms(timeout_s);
  try {
    auto tcp = c10::make_intrusive<c10d::TCPStore>(info.master_addr, options);
    store_ = c10::make_intrusive<c10d::PrefixStore>("dlbench/", tcp);
  } catch (const std::exception& e) {
    throw Error(fmt::format(
        "rank {}: cannot {} the rendezvous store at {}:{} within {:.0f} s ({}); check MASTER_ADDR "
        "and MASTER_PORT, and that rank 0 is running",
        info.rank, info.rank == 0 ? "serve" : "reach", info.master_addr, info.master_port,
        timeout_s, first_line(e.what())));
  }
}

Rendezvous::~Rendezvous() = default;

void Rendezvous::set(const std::string& key, const std::string& value) {
  store_->set(key, std::vector<uint8_t>(value.begin(), value.end()));
}

std::string Rendezvous::get(const std::string& key, double timeout_s) {
  if (!wait(key, timeout_s)) {
    throw Error(fmt::format("no '{}' in the rendezvous store within {:.0f} s", key, timeout_s));
  }
  std::vector<uint8_t> value = store_->get(key);
  return std::string(value.begin(), value.end());
}

bool Rendezvous::has(const std::string& key) { return store_->check({key}); }

// Polls with check() rather than TCPStore::wait: a wait that times out leaves its request
// registered on the server, whose late answer is then read as the reply to the client's next
// command (LibTorch 1.13), so the stream falls out of step ("Socket Timeout" on a later get).
bool Rendezvous::wait(const std::string& key, double timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + to_ms(timeout_s);
  while (!store_->check({key})) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// ---- Backends ----

CommBackendPtr make_gloo_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                 int world_size, double timeout_s, const std::string& host) {
  auto options = c10d::ProcessGroupGloo::Options::create(to_ms(timeout_s));
  // GLOO_SOCKET_IFNAME picks the interface as in PyTorch; otherwise the address that routes
  // to the master (`host`), else this host's name.
  const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
  if (interface && *interface) {
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
  } else if (!host.empty()) {
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(host));
  } else {
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  options->threads = 2;
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world_size, options);
}

CommBackend& LocalGroup::backend_for(const torch::Device& device) {
  if (device.is_cpu()) {
    if (!cpu_)
      cpu_ = make_gloo_backend(c10::make_intrusive<c10d::HashStore>(), 0, 1, 120, "127.0.0.1");
    return *cpu_;
  }
#if DLBENCH_WITH_CUDA
  if (device.is_cuda()) {
    if (!cuda_) cuda_ = make_nccl_backend(c10::make_intrusive<c10d::HashStore>(), 0, 1, 120);
    return *cuda_;
  }
#endif
  throw Unsupported("collectives on " + device.str() + " need an NCCL build (CUDA LibTorch)");
}

// ---- ProblemGroup ----

ProblemGroup::ProblemGroup(const GroupSpec& spec) : spec_(spec) {
  c10d::TCPStoreOptions options;
  options.port = static_cast<uint16_t>(spec.master_port);
  options.isServer = false;
  options.waitWorkers = false;
  options.timeout = to_ms(spec.timeout_s);
  try {
    auto tcp = c10::make_intrusive<c10d::TCPStore>(spec.master_addr, options);
    store_ = c10::make_intrusive<c10d::PrefixStore>("dlbench/" + spec.prefix, tcp);
  } catch (const std::exception& e) {
    throw Error(fmt::format("rank {}: cannot reach the rendezvous store at {}:{} ({})", spec.rank,
                            spec.master_addr, spec.master_port, first_line(e.what())));
  }
  try {
    control_ =
        make_gloo_backend(c10::make_intrusive<c10d::PrefixStore>("gloo/", store_), spec.rank,
                          spec.world_size, spec.timeout_s, local_address_towards(spec.master_addr));
  } catch (const std::exception& e) {
    throw Error(fmt::format(
        "rank {}: the process group of {} ranks did not form within {:.0f} s ({}): a rank is "
        "missing or failed before it joined",
        spec.rank, spec.world_size, spec.timeout_s, first_line(e.what())));
  }
}

ProblemGroup::~ProblemGroup() = default;

int ProblemGroup::max(int mine) {
  std::vector<at::Tensor> flag{torch::full({1}, mine, torch::kInt32)};
  c10d::AllreduceOptions options;
  options.reduceOp = c10d::ReduceOp::MAX;
  control_->allreduce(flag, options)->wait();
  return flag[0].item<int32_t>();
}

void ProblemGroup::barrier() { control_->barrier()->wait(); }

CommBackend& ProblemGroup::backend_for(const torch::Device& device) {
  if (device.is_cpu()) return *control_;
#if DLBENCH_WITH_CUDA
  if (device.is_cuda()) {
    if (!cuda_) {
      cuda_ = make_nccl_backend(c10::make_intrusive<c10d::PrefixStore>("nccl/", store_), spec_.rank,
                                spec_.world_size, spec_.timeout_s);
    }
    return *cuda_;
  }
#endif
  throw Unsupported("collectives on " + device.str() + " need an NCCL build (CUDA LibTorch)");
}

}  // namespace dlbench::dist
