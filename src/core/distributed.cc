#include "core/distributed.h"

#include <arpa/inet.h>
#include <fmt/core.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/strings.h"

namespace dlbench::dist {

using nlohmann::json;

json RankInfo::to_json() const {
  return {{"rank", rank},
          {"world_size", world_size},
          {"local_rank", local_rank},
          {"local_world_size", local_world_size},
          {"master_addr", master_addr},
          {"master_port", master_port},
          {"source", source}};
}

namespace {

/// An integer environment variable, or `fallback` when unset; Error when it is not a number.
int env_int(const EnvLookup& env, const char* name, int fallback) {
  const char* value = env(name);
  if (!value || !*value) return fallback;
  char* end = nullptr;
  errno = 0;
  long parsed = std::strtol(value, &end, 10);
  if (errno != 0 || *end != '\0' || parsed < 0 || parsed > 1 << 24) {
    throw Error(
        fmt::format("environment variable {}={} is not a rank count or index", name, value));
  }
  return static_cast<int>(parsed);
}

bool env_set(const EnvLookup& env, const char* name) {
  const char* value = env(name);
  return value && *value;
}

std::string env_string(const EnvLookup& env, const char* name) {
  const char* value = env(name);
  return value ? value : "";
}

}  // namespace

RankInfo detect_rank(const EnvLookup& lookup) {
  EnvLookup env = lookup ? lookup : EnvLookup([](const char* name) { return std::getenv(name); });
  RankInfo info;
  // Which launcher started us, and the variables it names each figure with.
  struct Scheme {
    const char* source;
    const char* rank;
    const char* size;
    const char* local_rank;
    const char* local_size;
  };
  const Scheme schemes[] = {
      {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"},
      {"openmpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
       "OMPI_COMM_WORLD_LOCAL_SIZE"},
      {"pmi", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"},
      {"slurm", "SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID", ""},
  };
  const Scheme* found = nullptr;
  for (const Scheme& scheme : schemes) {
    if (!env_set(env, scheme.rank)) continue;
    // A batch script's own step also has SLURM_PROCID=0: only an srun step (SLURM_STEP_ID set)
    // is a distributed launch.
    if (std::string(scheme.source) == "slurm" && !env_set(env, "SLURM_STEP_ID") &&
        !env_set(env, "SLURM_STEPID")) {
      continue;
    }
    found = &scheme;
    break;
  }
  if (found) {
    info.source = found->source;
    // dlbench's own launcher sets torchrun's variables and says so.
    if (info.source == "torchrun" && env_set(env, "DLBENCH_LAUNCHER")) {
      info.source = env_string(env, "DLBENCH_LAUNCHER");
    }
    info.rank = env_int(env, found->rank, 0);
    int size_fallback = info.source == "slurm" ? env_int(env, "SLURM_NTASKS", -1) : -1;
    info.world_size = env_int(env, found->size, size_fallback);
    if (info.world_size < 1) {
      throw Error(fmt::format("{} is set but {} is not: cannot tell the world size", found->rank,
                              found->size));
    }
    if (info.rank >= info.world_size) {
      throw Error(fmt::format("rank {} is not below the world size {} ({}, {})", info.rank,
                              info.world_size, found->rank, found->size));
    }
    info.local_rank = env_int(env, found->local_rank, 0);
    if (*found->local_size) {
      info.local_world_size = env_int(env, found->local_size, 0);
    } else if (env_set(env, "SLURM_TASKS_PER_NODE")) {
      // "4(x2),3": the count of this node is not known without the node index; the first entry
      // is a lower bound that is right for homogeneous allocations.
      info.local_world_size = std::atoi(env_string(env, "SLURM_TASKS_PER_NODE").c_str());
    }
    if (info.local_world_size < 1) info.local_world_size = 0;  // unknown
  }

  info.master_port = env_int(env, "MASTER_PORT", kDefaultMasterPort);
  if (info.master_port < 1 || info.master_port > 65535) {
    throw Error(fmt::format("MASTER_PORT={} is not a TCP port", info.master_port));
  }
  info.master_addr = env_string(env, "MASTER_ADDR");
  if (info.master_addr.empty() && info.distributed()) {
    if (info.source == "slurm") {
      std::string nodes = env_string(env, "SLURM_STEP_NODELIST");
      if (nodes.empty()) nodes = env_string(env, "SLURM_JOB_NODELIST");
      if (nodes.empty()) nodes = env_string(env, "SLURM_NODELIST");
      std::vector<std::string> hosts = expand_hostlist(nodes);
      if (hosts.empty()) {
        throw Error("srun step without SLURM_STEP_NODELIST: set MASTER_ADDR to rank 0's host");
      }
      info.master_addr = hosts.front();
    } else if (info.local_world_size == info.world_size ||
               (info.source != "openmpi" && info.source != "pmi")) {
      // Every rank is on this host, or torchrun-style variables without a master (torchrun
      // itself always sets it): the ranks meet on this host.
      info.master_addr = "127.0.0.1";
    } else {
      throw Error(fmt::format(
          "{} ranks across hosts ({}) but MASTER_ADDR is not set: export MASTER_ADDR=<rank 0's "
          "host> (mpirun -x MASTER_ADDR -x MASTER_PORT)",
          info.world_size, info.source));
    }
  }
  if (info.master_addr.empty()) info.master_addr = "127.0.0.1";
  return info;
}

std::vector<std::string> expand_hostlist(const std::string& list) {
  std::vector<std::string> hosts;
  size_t i = 0;
  auto malformed = [&](const std::string& why) {
    return Error("malformed Slurm host list '" + list + "': " + why);
  };
  while (i < list.size()) {
    // One entry: prefix, then optionally [ranges], then optionally a suffix; entries split by
    // commas outside brackets.
    std::string prefix;
    while (i < list.size() && list[i] != ',' && list[i] != '[') prefix += list[i++];
    if (i < list.size() && list[i] == '[') {
      size_t close = list.find(']', i);
      if (close == std::string::npos) throw malformed("'[' without ']'");
      std::string ranges = list.substr(i + 1, close - i - 1);
      i = close + 1;
      std::string suffix;
      while (i < list.size() && list[i] != ',') suffix += list[i++];
      if (ranges.empty()) throw malformed("empty []");
      for (const std::string& range : split(ranges, ',')) {
        size_t dash = range.find('-');
        std::string low = range.substr(0, dash);
        std::string high = dash == std::string::npos ? low : range.substr(dash + 1);
        if (low.empty() || high.empty() ||
            low.find_first_not_of("0123456789") != std::string::npos ||
            high.find_first_not_of("0123456789") != std::string::npos) {
          throw malformed("'" + range + "' is not a number or a range");
        }
        long a = std::stol(low), b = std::stol(high);
        if (b < a || b - a > 100000) throw malformed("range '" + range + "' runs backwards");
        for (long n = a; n <= b; ++n) {
          std::string digits = std::to_string(n);
          // Zero padding follows the lower bound's width ("01-10" -> 01 ... 10).
          if (digits.size() < low.size()) digits.insert(0, low.size() - digits.size(), '0');
          hosts.push_back(prefix + digits + suffix);
        }
      }
    } else if (!prefix.empty()) {
      hosts.push_back(prefix);
    }
    if (i < list.size() && list[i] == ',') ++i;
  }
  return hosts;
}

json GroupSpec::to_json() const {
  return {{"rank", rank},
          {"world_size", world_size},
          {"local_rank", local_rank},
          {"master_addr", master_addr},
          {"master_port", master_port},
          {"prefix", prefix},
          {"timeout_s", timeout_s}};
}

GroupSpec GroupSpec::from_json(const json& j) {
  GroupSpec spec;
  if (!j.is_object()) return spec;
  spec.rank = j.value("rank", 0);
  spec.world_size = j.value("world_size", 1);
  spec.local_rank = j.value("local_rank", 0);
  spec.master_addr = j.value("master_addr", "");
  spec.master_port = j.value("master_port", 0);
  spec.prefix = j.value("prefix", "");
  spec.timeout_s = j.value("timeout_s", 120.0);
  return spec;
}

const std::vector<std::string>& collective_names() {
  static const std::vector<std::string> names = {"allreduce", "allgather",  "reduce_scatter",
                                                 "broadcast", "all_to_all", "sendrecv"};
  return names;
}

double bus_factor(const std::string& collective, int ranks) {
  if (ranks < 1) throw Error(fmt::format("bus_factor: {} ranks", ranks));
  double n = ranks;
  if (collective == "allreduce") return 2 * (n - 1) / n;
  if (collective == "allgather" || collective == "reduce_scatter" || collective == "all_to_all") {
    return (n - 1) / n;
  }
  if (collective == "broadcast" || collective == "sendrecv") return 1;
  throw Error("unknown collective '" + collective + "' (" + join(collective_names(), ", ") + ")");
}

int free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error(std::string("cannot open a socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    int err = errno;
    ::close(fd);
    throw Error(std::string("cannot find a free TCP port: ") + std::strerror(err));
  }
  int port = ntohs(address.sin_port);
  ::close(fd);
  return port;
}

std::string hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

}  // namespace dlbench::dist
