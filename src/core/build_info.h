#pragma once

namespace dlbench {

/// The commit this binary was built from (12 hex digits, "-dirty" when tracked files differed
/// from it, "unknown" outside a git checkout). Written at build time by cmake/build_info.cmake.
const char* git_commit();

}  // namespace dlbench
