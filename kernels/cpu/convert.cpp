// Storage-type conversions. bf16 and fp16 travel as raw uint16 bits. Narrowing rounds to nearest, ties to even;
// Inf stays Inf, NaN stays NaN (sign and leading payload bits kept, quiet bit set, as the x86 conversion
// instructions do), fp16 subnormals are produced and read exactly, and values beyond fp16's range become ±Inf.
// Every routine is branch-free per element (selects only) so g++ can vectorise the loops.
#include <cstring>

#include "kernels/elementwise.h"
#include "kernels/parallel.h"

namespace pneuma::kernels::cpu {
namespace {

constexpr int64_t kConvertGrain = 1 << 15;

inline uint32_t float_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}
inline float bits_float(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

inline uint16_t float_to_bfloat16(float value) {
  const uint32_t bits = float_bits(value);
  const uint16_t nan = static_cast<uint16_t>((bits >> 16) | 0x0040u);
  // Adding 0x7fff plus the lowest kept bit rounds to nearest-even; a carry into the exponent gives Inf correctly.
  const uint16_t rounded = static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
  return (bits & 0x7fffffffu) > 0x7f800000u ? nan : rounded;
}

inline float bfloat16_to_float(uint16_t half) { return bits_float(static_cast<uint32_t>(half) << 16); }

inline uint16_t float_to_half(float value) {
  const uint32_t bits = float_bits(value);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t magnitude = bits & 0x7fffffffu;
  // |x| < 2^-14: fp16 subnormal or zero. Adding 0.5f puts the fp16 subnormal grid (2^-24) at the float's last
  // mantissa bit, so the FPU's own round-to-nearest-even does the rounding.
  const uint32_t subnormal = float_bits(bits_float(magnitude) + 0.5f) - 0x3f000000u;
  // Normal range: rebias the exponent (127 → 15) and round the 13 dropped bits to nearest-even; a mantissa carry
  // propagates into the exponent, and past 65504 (at ≥ 65520) into 0x7c00 = Inf.
  const uint32_t odd = (magnitude >> 13) & 1u;
  const uint32_t normal = (magnitude - (112u << 23) + 0xfffu + odd) >> 13;
  const uint32_t infinity_or_nan =
      magnitude > 0x7f800000u ? (0x7e00u | ((magnitude >> 13) & 0x3ffu)) : 0x7c00u;
  uint32_t result = magnitude < (113u << 23) ? subnormal : normal;
  result = magnitude >= (143u << 23) ? infinity_or_nan : result;  // ≥ 2^16: Inf (or NaN / Inf input)
  return static_cast<uint16_t>(sign | result);
}

inline float half_to_float(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t shifted = static_cast<uint32_t>(half & 0x7fffu) << 13;  // exponent and mantissa in float position
  const uint32_t exponent = shifted & 0x0f800000u;
  const uint32_t normal = shifted + (112u << 23);  // rebias 15 → 127
  // Inf/NaN: exponent all ones; a NaN comes back quiet.
  const uint32_t infinity_or_nan = (normal + (112u << 23)) | ((shifted & 0x007fe000u) != 0 ? 0x00400000u : 0u);
  // Subnormal (or zero): treat the bits as 2^-14 · (1.mantissa) and subtract the implicit 2^-14, exactly.
  const uint32_t subnormal = float_bits(bits_float(normal + (1u << 23)) - bits_float(113u << 23));
  uint32_t magnitude = exponent == 0 ? subnormal : normal;
  magnitude = exponent == 0x0f800000u ? infinity_or_nan : magnitude;
  return bits_float(sign | magnitude);
}

// `convert` must be a lambda (not a function pointer) so it inlines and the loop vectorises.
template <class From, class To, class Convert>
void convert_all(int64_t count, const From* input, To* output, Convert convert) {
  parallel_for(count, kConvertGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) output[i] = convert(input[i]);
  });
}

}  // namespace

void convert_f32_to_f64(int64_t count, const float* input, double* output) {
  convert_all(count, input, output, [](float x) { return static_cast<double>(x); });
}
void convert_f64_to_f32(int64_t count, const double* input, float* output) {
  convert_all(count, input, output, [](double x) { return static_cast<float>(x); });
}
void convert_f32_to_bf16(int64_t count, const float* input, uint16_t* output) {
  convert_all(count, input, output, [](float x) { return float_to_bfloat16(x); });
}
void convert_bf16_to_f32(int64_t count, const uint16_t* input, float* output) {
  convert_all(count, input, output, [](uint16_t x) { return bfloat16_to_float(x); });
}
void convert_f32_to_f16(int64_t count, const float* input, uint16_t* output) {
  convert_all(count, input, output, [](float x) { return float_to_half(x); });
}
void convert_f16_to_f32(int64_t count, const uint16_t* input, float* output) {
  convert_all(count, input, output, [](uint16_t x) { return half_to_float(x); });
}

}  // namespace pneuma::kernels::cpu
