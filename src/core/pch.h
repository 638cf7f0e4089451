// Precompiled header: LibTorch and the heavy standard headers, shared by every dlbench target.
#pragma once

#include <torch/torch.h>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>
