// FNV-1a, 64-bit (http://www.isthe.com/chongo/tech/comp/fnv/): the one hash of ids (--shard),
// speakers (speaker-disjoint splits) and decoded audio (duplicates across training and validation).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace voxsex::internal {

inline constexpr std::uint64_t kFnv1a64Offset = 0xcbf29ce484222325ull;

// The hash of n bytes; pass a previous hash as `h` to continue it over the next bytes.
inline std::uint64_t Fnv1a64(const void* data, std::size_t n, std::uint64_t h = kFnv1a64Offset) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ bytes[i]) * 0x100000001b3ull;
  return h;
}

inline std::uint64_t Fnv1a64(const std::string& s) { return Fnv1a64(s.data(), s.size()); }

}  // namespace voxsex::internal
