// dtype conversion kernels: fp16 against the compiler's _Float16 (an independent implementation), bf16 against an
// exact reference, and the fp32 ⇄ fp64 casts; rounding ties, subnormals, overflow, Inf and NaN.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/elementwise.h"

namespace pneuma::kernels {
namespace {

uint32_t bits_of(float x) {
  uint32_t b;
  std::memcpy(&b, &x, 4);
  return b;
}
float float_of(uint32_t b) {
  float x;
  std::memcpy(&x, &b, 4);
  return x;
}
uint16_t half_bits_of(_Float16 h) {
  uint16_t b;
  std::memcpy(&b, &h, 2);
  return b;
}
_Float16 half_of(uint16_t b) {
  _Float16 h;
  std::memcpy(&h, &b, 2);
  return h;
}
bool is_half_nan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }
bool is_bf16_nan(uint16_t h) { return (h & 0x7f80) == 0x7f80 && (h & 0x7f) != 0; }

uint16_t to_half(float x) {
  uint16_t h;
  cpu::convert_f32_to_f16(1, &x, &h);
  return h;
}
uint16_t to_bf16(float x) {
  uint16_t h;
  cpu::convert_f32_to_bf16(1, &x, &h);
  return h;
}

// Exact bf16 rounding reference: compare the distances to the two bf16 neighbours in double (exact for floats).
uint16_t bf16_reference(float x) {
  const uint32_t b = bits_of(x);
  const uint16_t down = static_cast<uint16_t>(b >> 16);
  if ((b & 0xffffu) == 0) return down;
  const uint16_t up = static_cast<uint16_t>(down + 1);  // next magnitude (may become Inf: 0x7f80)
  const double low = float_of(static_cast<uint32_t>(down) << 16);
  const double high = (up & 0x7fff) == 0x7f80 ? std::copysign(std::ldexp(1.0, 128), x)  // Inf stands at 2^128
                                              : static_cast<double>(float_of(static_cast<uint32_t>(up) << 16));
  const double to_low = std::fabs(static_cast<double>(x) - low), to_high = std::fabs(high - static_cast<double>(x));
  if (to_low != to_high) return to_low < to_high ? down : up;
  return (down & 1) ? up : down;
}

TEST(ConvertKernels, HalfToFloatEveryBitPattern) {
  std::vector<uint16_t> halves(65536);
  for (int i = 0; i < 65536; ++i) halves[i] = static_cast<uint16_t>(i);
  std::vector<float> floats(65536, -1.0f);
  cpu::convert_f16_to_f32(65536, halves.data(), floats.data());
  for (int i = 0; i < 65536; ++i) {
    const float want = static_cast<float>(half_of(halves[i]));
    if (is_half_nan(halves[i])) {
      ASSERT_TRUE(std::isnan(floats[i])) << std::hex << i;
      ASSERT_EQ(std::signbit(floats[i]), (i & 0x8000) != 0) << std::hex << i;
    } else {
      ASSERT_EQ(bits_of(floats[i]), bits_of(want)) << "half bits 0x" << std::hex << i;
    }
  }
}

TEST(ConvertKernels, HalfRoundTripsThroughFloat) {
  std::vector<uint16_t> halves(65536), back(65536);
  for (int i = 0; i < 65536; ++i) halves[i] = static_cast<uint16_t>(i);
  std::vector<float> floats(65536);
  cpu::convert_f16_to_f32(65536, halves.data(), floats.data());
  cpu::convert_f32_to_f16(65536, floats.data(), back.data());
  for (int i = 0; i < 65536; ++i) {
    if (is_half_nan(halves[i])) {
      ASSERT_TRUE(is_half_nan(back[i])) << std::hex << i;
      ASSERT_EQ(back[i] & 0x8000, i & 0x8000);
      ASSERT_TRUE(back[i] & 0x200) << "NaN comes back quiet";
    } else {
      ASSERT_EQ(back[i], halves[i]) << "half bits 0x" << std::hex << i;
    }
  }
}

TEST(ConvertKernels, FloatToHalfMatchesCompilerOnRandomAndTieValues) {
  std::mt19937 rng(21);
  std::vector<float> inputs;
  // Random bit patterns over the whole float range, and random values in fp16's normal and subnormal ranges.
  std::uniform_int_distribution<uint32_t> any_bits;
  for (int i = 0; i < 200000; ++i) inputs.push_back(float_of(any_bits(rng)));
  std::uniform_real_distribution<float> exponent(-27.0f, 17.0f);
  for (int i = 0; i < 200000; ++i) inputs.push_back((i & 1 ? -1.0f : 1.0f) * std::exp2(exponent(rng)));
  // Exact midpoints between neighbouring fp16 values (ties) and one float either side of each.
  for (uint32_t h = 0; h < 0x7c00; h += 7) {
    const float low = static_cast<float>(half_of(static_cast<uint16_t>(h)));
    const float high = static_cast<float>(half_of(static_cast<uint16_t>(h + 1)));
    const float middle = static_cast<float>((static_cast<double>(low) + high) / 2);
    inputs.insert(inputs.end(), {middle, std::nextafter(middle, 0.0f), std::nextafter(middle, 1e9f), -middle});
  }
  // Named edges: max half, the overflow threshold 65520 and its neighbours, smallest subnormal and half of it.
  inputs.insert(inputs.end(), {65504.0f, 65519.996f, 65520.0f, 65536.0f, 1e10f, -65520.0f, 5.9604645e-8f,
                               2.9802322e-8f, 2.9802326e-8f, 8.940697e-8f, 6.097555e-5f, 6.1035156e-5f, 0.0f,
                               -0.0f, std::numeric_limits<float>::denorm_min(),
                               std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()});
  std::vector<uint16_t> got(inputs.size());
  cpu::convert_f32_to_f16(static_cast<int64_t>(inputs.size()), inputs.data(), got.data());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const float x = inputs[i];
    if (std::isnan(x)) {
      ASSERT_TRUE(is_half_nan(got[i])) << "NaN input 0x" << std::hex << bits_of(x);
      ASSERT_EQ((got[i] & 0x8000) != 0, std::signbit(x));
      continue;
    }
    ASSERT_EQ(got[i], half_bits_of(static_cast<_Float16>(x)))
        << "input " << x << " (0x" << std::hex << bits_of(x) << ")";
  }
}

TEST(ConvertKernels, FloatToHalfNamedEdges) {
  EXPECT_EQ(to_half(65504.0f), 0x7bff);
  EXPECT_EQ(to_half(65519.99f), 0x7bff);
  EXPECT_EQ(to_half(65520.0f), 0x7c00);  // tie between 65504 and 65536 rounds to even, i.e. Inf
  EXPECT_EQ(to_half(-1e30f), 0xfc00);
  EXPECT_EQ(to_half(std::exp2(-24.0f)), 0x0001);         // smallest subnormal
  EXPECT_EQ(to_half(std::exp2(-25.0f)), 0x0000);         // half of it: tie to even (zero)
  EXPECT_EQ(to_half(1.5f * std::exp2(-24.0f)), 0x0002);  // tie between 1 and 2 ulps: to even
  EXPECT_EQ(to_half(std::exp2(-14.0f)), 0x0400);         // smallest normal
  EXPECT_EQ(to_half(-0.0f), 0x8000);
  EXPECT_EQ(to_half(1.0f + std::exp2(-11.0f)), 0x3c00);  // tie below even
  EXPECT_EQ(to_half(1.0f + 3 * std::exp2(-11.0f)), 0x3c02);
  EXPECT_EQ(to_half(float_of(0x7f800001u)) & 0x7e00, 0x7e00);  // NaN with low payload stays a (quiet) NaN
  EXPECT_EQ(to_half(float_of(0xffc00000u)), 0xfe00);
}

TEST(ConvertKernels, FloatToBfloat16MatchesExactReference) {
  std::mt19937 rng(22);
  std::uniform_int_distribution<uint32_t> any_bits;
  std::vector<float> inputs;
  for (int i = 0; i < 300000; ++i) inputs.push_back(float_of(any_bits(rng)));
  for (uint32_t top = 0; top < 0x7f80; top += 3) {  // ties and their neighbours across the range
    inputs.push_back(float_of((top << 16) | 0x8000u));
    inputs.push_back(float_of((top << 16) | 0x7fffu));
    inputs.push_back(float_of((top << 16) | 0x8001u | 0x80000000u));
  }
  std::vector<uint16_t> got(inputs.size());
  cpu::convert_f32_to_bf16(static_cast<int64_t>(inputs.size()), inputs.data(), got.data());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const float x = inputs[i];
    if (std::isnan(x)) {
      ASSERT_TRUE(is_bf16_nan(got[i])) << "NaN input 0x" << std::hex << bits_of(x);
      ASSERT_EQ((got[i] & 0x8000) != 0, std::signbit(x));
      continue;
    }
    ASSERT_EQ(got[i], bf16_reference(x)) << "input " << x << " (0x" << std::hex << bits_of(x) << ")";
  }
}

TEST(ConvertKernels, Bfloat16NamedEdges) {
  EXPECT_EQ(to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(to_bf16(float_of(0x3f808000u)), 0x3f80);  // tie, even stays
  EXPECT_EQ(to_bf16(float_of(0x3f818000u)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // rounds past the largest bf16 to Inf
  EXPECT_EQ(to_bf16(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_EQ(to_bf16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(to_bf16(float_of(0x00008000u)), 0x0000);  // subnormal tie to even
  EXPECT_EQ(to_bf16(float_of(0x00018000u)), 0x0002);
  EXPECT_TRUE(is_bf16_nan(to_bf16(float_of(0x7f800001u))));  // payload only in dropped bits: still NaN, not Inf
  EXPECT_TRUE(is_bf16_nan(to_bf16(float_of(0xff800001u))));
}

TEST(ConvertKernels, Bfloat16ToFloatIsExactWidening) {
  std::vector<uint16_t> all(65536);
  for (int i = 0; i < 65536; ++i) all[i] = static_cast<uint16_t>(i);
  std::vector<float> floats(65536);
  std::vector<uint16_t> back(65536);
  cpu::convert_bf16_to_f32(65536, all.data(), floats.data());
  cpu::convert_f32_to_bf16(65536, floats.data(), back.data());
  for (int i = 0; i < 65536; ++i) {
    ASSERT_EQ(bits_of(floats[i]), static_cast<uint32_t>(i) << 16);
    if (is_bf16_nan(static_cast<uint16_t>(i))) ASSERT_TRUE(is_bf16_nan(back[i]));
    else ASSERT_EQ(back[i], i);
  }
}

TEST(ConvertKernels, FloatDoubleConversions) {
  std::mt19937 rng(23);
  std::uniform_int_distribution<uint32_t> any_bits;
  const int64_t count = 100003;
  std::vector<float> floats(count);
  for (auto& f : floats) f = float_of(any_bits(rng));
  std::vector<double> doubles(count);
  std::vector<float> back(count);
  cpu::convert_f32_to_f64(count, floats.data(), doubles.data());
  cpu::convert_f64_to_f32(count, doubles.data(), back.data());
  for (int64_t i = 0; i < count; ++i) {
    if (std::isnan(floats[i])) {
      ASSERT_TRUE(std::isnan(doubles[i]) && std::isnan(back[i]));
      continue;
    }
    ASSERT_EQ(doubles[i], static_cast<double>(floats[i]));
    ASSERT_EQ(bits_of(back[i]), bits_of(floats[i]));
  }
  // Narrowing rounds to nearest-even and overflows to Inf.
  const double narrowing[] = {1.0 + std::ldexp(1.0, -24), 1.0 + 3 * std::ldexp(1.0, -24), 1e39, -1e39,
                              1.0 + std::ldexp(1.0, -24) + std::ldexp(1.0, -40), 1e-46,
                              std::numeric_limits<double>::quiet_NaN()};
  float narrowed[7];
  cpu::convert_f64_to_f32(7, narrowing, narrowed);
  EXPECT_EQ(narrowed[0], 1.0f);
  EXPECT_EQ(narrowed[1], 1.0f + 2 * std::exp2(-23.0f));
  EXPECT_EQ(narrowed[2], std::numeric_limits<float>::infinity());
  EXPECT_EQ(narrowed[3], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(narrowed[4], 1.0f + std::exp2(-23.0f));
  EXPECT_EQ(narrowed[5], 0.0f);
  EXPECT_TRUE(std::isnan(narrowed[6]));
}

}  // namespace
}  // namespace pneuma::kernels
