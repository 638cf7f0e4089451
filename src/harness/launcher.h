// The local launcher (dlbench run ... --nproc N): starts N ranks of this binary on this host
// with torchrun-style variables, and reports the rank that failed. See docs/distributed.md.
#pragma once

#include <string>
#include <vector>

namespace dlbench::dist {

/// Runs this binary with `args` (argv without argv[0]) as `nproc` ranks on this host: each gets
/// RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1 and a free
/// MASTER_PORT. Waits for all. When a rank dies (a signal, or an exit status above 1) while
/// others still run, the others get `grace_s` to finish on their own, then SIGTERM, then
/// SIGKILL; each failed rank is named on stderr. Returns 0 when every rank exited 0, 1 when
/// problems failed or a rank died.
int launch_local(int nproc, const std::vector<std::string>& args, double grace_s);

/// Parses a --nproc value: one count ("2") or a sweep ("1,2,4"); Error on anything else.
std::vector<int> parse_nproc(const std::string& text);

}  // namespace dlbench::dist
