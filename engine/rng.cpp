#include "engine/rng.h"

#include "kernels/error.h"
#include "kernels/philox.h"

namespace pneuma {

double Generator::uniform() {
  const uint64_t first = reserve(4);
  const kernels::Philox4x32 block = kernels::philox_block(seed_, first, 0);
  // 53 random bits from two words.
  const uint64_t bits = (static_cast<uint64_t>(block.value[0]) << 21) ^ (block.value[1] >> 11);
  return static_cast<double>(bits & ((uint64_t{1} << 53) - 1)) * (1.0 / 9007199254740992.0);
}

double Generator::normal() {
  const uint64_t first = reserve(4);
  return kernels::philox_normal_at(seed_, first, 0);
}

uint64_t Generator::next_u64() {
  const uint64_t first = reserve(4);
  const kernels::Philox4x32 block = kernels::philox_block(seed_, first, 0);
  return (static_cast<uint64_t>(block.value[0]) << 32) | block.value[1];
}

int64_t Generator::integer(int64_t low, int64_t high) {
  PNEUMA_CHECK(high > low, "Generator::integer: empty range [%lld, %lld)", static_cast<long long>(low),
               static_cast<long long>(high));
  const uint64_t range = static_cast<uint64_t>(high - low);
  // Rejection sampling: no modulo bias.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % range;
  uint64_t value;
  do value = next_u64();
  while (value >= limit);
  return low + static_cast<int64_t>(value % range);
}

Generator& default_generator() {
  static Generator generator;
  return generator;
}

void manual_seed(uint64_t seed) { default_generator().set_state(seed, 0); }

}  // namespace pneuma
