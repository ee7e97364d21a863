#include <gtest/gtest.h>

#include <set>

#include "engine/rng.h"
#include "kernels/philox.h"

namespace pneuma {
namespace {

// Known-answer test from the Random123 distribution (kat_vectors): philox4x32-10 with counter 0 and key 0.
TEST(Philox, MatchesRandom123KnownAnswer) {
  const kernels::Philox4x32 zero = kernels::philox4x32(0, 0, 0, 0, 0, 0);
  EXPECT_EQ(zero.value[0], 0x6627e8d5u);
  EXPECT_EQ(zero.value[1], 0xe169c58du);
  EXPECT_EQ(zero.value[2], 0xbc57ac4cu);
  EXPECT_EQ(zero.value[3], 0x9b00dbd8u);
  const kernels::Philox4x32 ones =
      kernels::philox4x32(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu);
  EXPECT_EQ(ones.value[0], 0x408f276du);
  EXPECT_EQ(ones.value[1], 0x41c83b0eu);
  EXPECT_EQ(ones.value[2], 0xa20bc7c6u);
  EXPECT_EQ(ones.value[3], 0x6d5451fdu);
}

TEST(Generator, SameSeedSameStreamAndStateRestores) {
  Generator a(123), b(123);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.next_u64(), b.next_u64());
  const uint64_t seed = a.seed(), offset = a.offset();
  const double next = a.uniform();
  Generator c;
  c.set_state(seed, offset);
  EXPECT_EQ(c.uniform(), next);
  EXPECT_NE(Generator(1).next_u64(), Generator(2).next_u64());
}

TEST(Generator, IntegersCoverTheRangeWithoutBias) {
  Generator g(5);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 7000; ++i) {
    const int64_t v = g.integer(3, 10);
    ASSERT_GE(v, 3);
    ASSERT_LT(v, 10);
    counts[v - 3]++;
  }
  for (int count : counts) EXPECT_NEAR(count, 1000, 150);
}

TEST(Generator, ReservationsNeverOverlap) {
  Generator g(9);
  const uint64_t first = g.reserve(5);
  const uint64_t second = g.reserve(1);
  EXPECT_GE(second, first + 5);
  EXPECT_EQ(second % 4, 0u);
}

}  // namespace
}  // namespace pneuma
