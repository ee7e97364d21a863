// Keyed Philox draws for the data pipeline. Every random decision of the pipeline is a pure function of
// (seed, stream, a, b, draw): the counter holds draw, the low 32 bits of a (the epoch), the low 56 bits of b (the
// position) and the stream, the key is the 64-bit seed. So the split shuffle, an epoch's order and each sample's
// augmentation come from disjoint streams and never depend on the thread or the order in which they are computed.
#pragma once
#include <cstdint>
#include <numeric>
#include <vector>

#include "kernels/philox.h"

namespace pneuma::data {

enum class RandomStream : uint32_t { split_groups = 1, epoch_order = 2, balanced_sampling = 3, augmentation = 4 };

// 64 random bits: draw `draw` of the stream (seed, stream, a, b).
inline uint64_t random_bits(uint64_t seed, RandomStream stream, uint64_t a, uint64_t b, uint32_t draw) {
  const kernels::Philox4x32 block = kernels::philox4x32(draw, static_cast<uint32_t>(b), static_cast<uint32_t>(a),
                                                        static_cast<uint32_t>(stream) ^ (static_cast<uint32_t>(b >> 32) << 8),
                                                        static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  return (static_cast<uint64_t>(block.value[0]) << 32) | block.value[1];
}

// Uniform in [0, 1) with 53 bits.
inline double random_uniform(uint64_t seed, RandomStream stream, uint64_t a, uint64_t b, uint32_t draw) {
  return static_cast<double>(random_bits(seed, stream, a, b, draw) >> 11) * (1.0 / 9007199254740992.0);
}

// Uniform integer in [0, bound) (multiply-shift on 64 bits: bias below 2^-40 for any bound used here).
inline uint64_t random_below(uint64_t bound, uint64_t seed, RandomStream stream, uint64_t a, uint64_t b,
                             uint32_t draw) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(random_bits(seed, stream, a, b, draw)) * bound) >> 64);
}

// A permutation of 0..n-1 (Fisher–Yates; swap i uses draw (a, i)).
inline std::vector<size_t> random_permutation(size_t n, uint64_t seed, RandomStream stream, uint64_t a) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[random_below(i, seed, stream, a, i - 1, 0)]);
  return order;
}

}  // namespace pneuma::data
