// A fast 64-bit non-cryptographic hash of a byte range (content keys for duplicate detection and checksums in
// the image cache). Processes 8 bytes per step with a multiply–xorshift mix; any change of a byte, of the
// length or of the seed changes the result except with probability ~2^-64.
#pragma once
#include <cstdint>
#include <cstring>

namespace pneuma::data {

inline uint64_t hash_mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

inline uint64_t hash_bytes(const void* data, size_t size, uint64_t seed = 0) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  uint64_t h = hash_mix(seed ^ 0x9e3779b97f4a7c15ULL ^ size);
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, bytes + i, 8);
    h = (h ^ hash_mix(word)) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, bytes + i, size - i);
  h = (h ^ hash_mix(tail ^ (static_cast<uint64_t>(size - i) << 56))) * 0x9e3779b97f4a7c15ULL;
  return hash_mix(h);
}

}  // namespace pneuma::data
