// Byte order for the binary formats (IDX, NetCDF classic: both big-endian on disk).
#pragma once

#include <cstdint>
#include <cstring>
#include <utility>

namespace dlbench::data {

/// True on a little-endian host.
inline bool host_is_little_endian() {
  const uint16_t probe = 1;
  uint8_t first;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

/// Converts `count` elements of `element_size` bytes between big-endian and the host's order,
/// in place, either way (the swap is its own inverse; a no-op on big-endian hosts and for bytes).
inline void swap_big_endian(uint8_t* data, int64_t count, int element_size) {
  if (element_size == 1 || !host_is_little_endian()) return;
  for (int64_t i = 0; i < count; ++i) {
    uint8_t* element = data + i * element_size;
    for (int a = 0, b = element_size - 1; a < b; ++a, --b) std::swap(element[a], element[b]);
  }
}

}  // namespace dlbench::data
