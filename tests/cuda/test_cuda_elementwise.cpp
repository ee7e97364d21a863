// CUDA elementwise kernels against the CPU reference: broadcast add/subtract/multiply/divide forward and both
// operand gradients over awkward broadcasts, fills, scale, axpy, the deterministic sums, strided and row copies,
// and dtype conversions (bit-exact for every non-NaN value). Outputs are NaN-poisoned first.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "engine/ops/op_support.h"
#include "kernels/elementwise.h"
#include "tests/cuda/cuda_test_support.h"

namespace pneuma {
namespace {

#if PNEUMA_WITH_CUDA
using kernels::Binary;

const char* binary_name(Binary op) {
  switch (op) {
    case Binary::add: return "add";
    case Binary::subtract: return "subtract";
    case Binary::multiply: return "multiply";
    case Binary::divide: return "divide";
  }
  return "?";
}

void check_binary(Binary op, const Shape& a_shape, const Shape& b_shape, uint64_t seed) {
  const std::string label = std::string(binary_name(op)) + " " + shape_string(a_shape) + "·" + shape_string(b_shape);
  SCOPED_TRACE(label);
  const kernels::BroadcastShape s = ops_detail::broadcast_shapes("test", a_shape, b_shape);
  const Shape out_shape = ops_detail::broadcast_output_shape(s);
  const Tensor a = testing::random_uniform(a_shape, -2, 2, seed);
  // Divisors away from zero.
  const Tensor b = op == Binary::divide ? testing::random_uniform(b_shape, 0.5, 2, seed + 1)
                                        : testing::random_uniform(b_shape, -2, 2, seed + 1);
  const Tensor dy = testing::random_normal(out_shape, 0, 1, seed + 2);
  Tensor y_ref = Tensor::empty(out_shape), da_ref = Tensor::empty(a_shape), db_ref = Tensor::empty(b_shape);
  kernels::cpu::binary_forward<float>(op, s, a.data<float>(), b.data<float>(), y_ref.data<float>());
  kernels::cpu::binary_backward<float>(op, s, 0, a.data<float>(), b.data<float>(), dy.data<float>(), da_ref.data<float>());
  kernels::cpu::binary_backward<float>(op, s, 1, a.data<float>(), b.data<float>(), dy.data<float>(), db_ref.data<float>());

  const Tensor a_gpu = testing::on_gpu(a), b_gpu = testing::on_gpu(b), dy_gpu = testing::on_gpu(dy);
  Tensor y = testing::poisoned(out_shape), da = testing::poisoned(a_shape), db = testing::poisoned(b_shape);
  kernels::cuda::binary_forward<float>(op, s, a_gpu.data<float>(), b_gpu.data<float>(), y.data<float>());
  kernels::cuda::binary_backward<float>(op, s, 0, a_gpu.data<float>(), b_gpu.data<float>(), dy_gpu.data<float>(),
                                        da.data<float>());
  kernels::cuda::binary_backward<float>(op, s, 1, a_gpu.data<float>(), b_gpu.data<float>(), dy_gpu.data<float>(),
                                        db.data<float>());
  // Reduced gradients sum up to thousands of terms.
  const testing::Tolerance reduced{.atol = 1e-4, .rtol = 1e-4};
  EXPECT_TRUE(testing::expect_close(std::string(binary_name(op)) + ".forward", y, y_ref, {.atol = 0, .rtol = 0}));
  EXPECT_TRUE(testing::expect_close(std::string(binary_name(op)) + ".grad_a", da, da_ref, reduced));
  EXPECT_TRUE(testing::expect_close(std::string(binary_name(op)) + ".grad_b", db, db_ref, reduced));
}
#endif

TEST(CudaElementwise, BroadcastBinaryForwardAndGradientsMatchCpu) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  const std::pair<Shape, Shape> shapes[] = {
      {{3, 17, 17, 37}, {3, 17, 17, 37}},  // same shape
      {{3, 17, 17, 37}, {37}},             // bias over channels
      {{3, 17, 17, 37}, {3, 1, 1, 37}},    // per-sample channel scale
      {{3, 1, 17, 1}, {1, 17, 1, 37}},     // both broadcast
      {{5, 4099}, {}},                     // scalar
      {{}, {7, 3}},                        // scalar on the left
      {{70001, 1}, {1, 3}},                // long reduction
      {{2, 3, 5}, {3, 1}},                 // trailing reduction
      {{1}, {1}},
  };
  uint64_t seed = 10;
  for (Binary op : {Binary::add, Binary::subtract, Binary::multiply, Binary::divide})
    for (const auto& [a, b] : shapes) check_binary(op, a, b, seed += 3);
#endif
}

TEST(CudaElementwise, FillScaleAxpyMatchCpu) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  const int64_t n = 100003;
  Tensor filled = testing::poisoned({n});
  kernels::cuda::fill<float>(n, 2.5f, filled.data<float>());
  EXPECT_TRUE(testing::expect_identical("fill", filled, Tensor::full({n}, 2.5)));

  const Tensor scalar = testing::on_gpu(Tensor::from_vector<float>({3.0f}, {1}));
  Tensor spread = testing::poisoned({n});
  kernels::cuda::fill_from_scalar<float>(n, scalar.data<float>(), 0.25, spread.data<float>());
  EXPECT_TRUE(testing::expect_identical("fill_from_scalar", spread, Tensor::full({n}, 0.75)));

  const Tensor x = testing::random_normal({n}, 0, 1, 3), y0 = testing::random_normal({n}, 0, 1, 4);
  Tensor scaled_ref = Tensor::empty({n}), axpy_ref = y0.clone();
  kernels::cpu::scale<float>(n, -1.5f, x.data<float>(), scaled_ref.data<float>());
  kernels::cpu::axpy<float>(n, 0.5f, x.data<float>(), axpy_ref.data<float>());
  const Tensor x_gpu = testing::on_gpu(x);
  Tensor scaled = testing::poisoned({n}), axpy = testing::on_gpu(y0);
  kernels::cuda::scale<float>(n, -1.5f, x_gpu.data<float>(), scaled.data<float>());
  kernels::cuda::axpy<float>(n, 0.5f, x_gpu.data<float>(), axpy.data<float>());
  EXPECT_TRUE(testing::expect_identical("scale", scaled, scaled_ref));
  EXPECT_TRUE(testing::expect_close("axpy", axpy, axpy_ref, {.atol = 1e-7, .rtol = 1e-7}));
#endif
}

TEST(CudaElementwise, SumsAndFinitenessMatchCpuAndAreDeterministic) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  for (int64_t n : {int64_t{1}, int64_t{37}, int64_t{4097}, int64_t{5000003}}) {
    SCOPED_TRACE(n);
    const Tensor x = testing::random_normal({n}, 0.5, 2, static_cast<uint64_t>(n));
    const Tensor x_gpu = testing::on_gpu(x);
    const double sum_ref = kernels::cpu::sum<float>(n, x.data<float>());
    const double squares_ref = kernels::cpu::sum_of_squares<float>(n, x.data<float>());
    Tensor total = testing::poisoned({}), mean = testing::poisoned({});
    kernels::cuda::sum<float>(n, x_gpu.data<float>(), 1.0, total.data<float>());
    kernels::cuda::sum<float>(n, x_gpu.data<float>(), 1.0 / static_cast<double>(n), mean.data<float>());
    EXPECT_TRUE(testing::expect_close("sum", total, Tensor::scalar(sum_ref), {.atol = 1e-9, .rtol = 1e-6}));
    EXPECT_TRUE(testing::expect_close("mean", mean, Tensor::scalar(sum_ref / n), {.atol = 1e-9, .rtol = 1e-6}));
    const double squares = kernels::cuda::sum_of_squares<float>(n, x_gpu.data<float>());
    EXPECT_NEAR(squares, squares_ref, 1e-12 * squares_ref) << "double accumulation on both sides";
    EXPECT_EQ(kernels::cuda::sum_of_squares<float>(n, x_gpu.data<float>()), squares) << "run to run";
    EXPECT_TRUE(kernels::cuda::all_finite(n, x_gpu.data<float>()));
    for (float bad : {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                      std::numeric_limits<float>::quiet_NaN()}) {
      std::vector<float> values = x.to_vector<float>();
      values.back() = bad;
      const Tensor with_bad = testing::on_gpu(Tensor::from_vector(values, {n}));
      EXPECT_FALSE(kernels::cuda::all_finite(n, with_bad.data<float>())) << bad;
    }
  }
#endif
}

TEST(CudaElementwise, StridedAndRowCopiesMatchCpu) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  const Tensor x = testing::random_normal({3, 17, 5, 37}, 0, 1, 8);
  const Tensor view = x.permute({3, 1, 0, 2}).narrow(1, 2, 13);
  Tensor ref = Tensor::empty(view.shape());
  kernels::cpu::copy_strided<float>(view.rank(), view.shape().data(), view.strides().data(), view.data<float>(),
                                    ref.data<float>());
  const Tensor x_gpu = testing::on_gpu(x);
  const Tensor view_gpu = x_gpu.permute({3, 1, 0, 2}).narrow(1, 2, 13);
  Tensor copy = testing::poisoned(view.shape());
  kernels::cuda::copy_strided(view_gpu.rank(), view_gpu.shape().data(), view_gpu.strides().data(), sizeof(float),
                              view_gpu.raw_data(), copy.raw_data());
  EXPECT_TRUE(testing::expect_identical("copy_strided", copy, ref));

  // Rows of 7 from a [11, 20] source into columns 5..11 of a [11, 13] destination.
  const Tensor source = testing::random_normal({11, 20}, 0, 1, 9);
  Tensor destination_ref = Tensor::full({11, 13}, -1.0);
  kernels::cpu::copy_rows<float>(11, 7, source.data<float>() + 3, 20, destination_ref.data<float>() + 5, 13);
  const Tensor source_gpu = testing::on_gpu(source);
  Tensor destination = testing::on_gpu(Tensor::full({11, 13}, -1.0));
  kernels::cuda::copy_rows(11, 7, sizeof(float), source_gpu.data<float>() + 3, 20, destination.data<float>() + 5, 13);
  EXPECT_TRUE(testing::expect_identical("copy_rows", destination, destination_ref));
#endif
}

#if PNEUMA_WITH_CUDA
// Floats covering normals, subnormals (fp32 and fp16 ranges), rounding ties, overflow and infinities.
std::vector<float> conversion_inputs() {
  std::vector<float> values = testing::random_normal({4096}, 0, 100, 21).to_vector<float>();
  const float extra[] = {0.0f, -0.0f, 1.0f, 65504.0f, 65520.0f, 1e6f, -1e-8f, 6e-8f, 3e-5f, 1.0009765625f,
                         1.00048828125f, std::numeric_limits<float>::denorm_min(), 1e-40f,
                         std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                         std::numeric_limits<float>::max()};
  values.insert(values.end(), std::begin(extra), std::end(extra));
  const std::vector<float> small = testing::random_normal({512}, 0, 1e-5, 22).to_vector<float>();
  values.insert(values.end(), small.begin(), small.end());
  return values;
}

// The raw 16-bit words of a device tensor of f16 or bf16.
std::vector<uint16_t> bits_of(const Tensor& device_tensor) {
  const Tensor host = device_tensor.to(Device::cpu());
  std::vector<uint16_t> bits(static_cast<size_t>(host.numel()));
  std::memcpy(bits.data(), host.raw_data(), bits.size() * 2);
  return bits;
}
#endif

TEST(CudaElementwise, ConversionsAreBitExact) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  const std::vector<float> values = conversion_inputs();
  const int64_t n = static_cast<int64_t>(values.size());
  const Tensor input = testing::on_gpu(Tensor::from_vector(values, {n}));
  Tensor half_bits = Tensor::empty({n}, DType::f16, Device::cuda()), bf16_bits = Tensor::empty({n}, DType::bf16, Device::cuda());
  kernels::cuda::convert_f32_to_f16(n, input.data<float>(), static_cast<uint16_t*>(half_bits.raw_data()));
  kernels::cuda::convert_f32_to_bf16(n, input.data<float>(), static_cast<uint16_t*>(bf16_bits.raw_data()));
  std::vector<uint16_t> half_ref(n), bf16_ref(n);
  kernels::cpu::convert_f32_to_f16(n, values.data(), half_ref.data());
  kernels::cpu::convert_f32_to_bf16(n, values.data(), bf16_ref.data());
  EXPECT_EQ(bits_of(half_bits), half_ref) << "f32 -> f16";
  EXPECT_EQ(bits_of(bf16_bits), bf16_ref) << "f32 -> bf16";

  // And back: every f16 / bf16 bit pattern except NaNs.
  std::vector<uint16_t> patterns;
  for (uint32_t bits = 0; bits < 65536; ++bits) patterns.push_back(static_cast<uint16_t>(bits));
  const int64_t p = static_cast<int64_t>(patterns.size());
  Tensor patterns_gpu = Tensor::empty({p}, DType::bf16, Device::cuda());
  Tensor pattern_host = Tensor::empty({p}, DType::bf16);
  std::memcpy(pattern_host.raw_data(), patterns.data(), p * 2);
  patterns_gpu.copy_from(pattern_host);
  for (bool half : {true, false}) {
    std::vector<float> ref(p);
    Tensor widened = testing::poisoned({p});
    if (half) {
      kernels::cpu::convert_f16_to_f32(p, patterns.data(), ref.data());
      kernels::cuda::convert_f16_to_f32(p, static_cast<const uint16_t*>(patterns_gpu.raw_data()), widened.data<float>());
    } else {
      kernels::cpu::convert_bf16_to_f32(p, patterns.data(), ref.data());
      kernels::cuda::convert_bf16_to_f32(p, static_cast<const uint16_t*>(patterns_gpu.raw_data()), widened.data<float>());
    }
    const std::vector<float> got = widened.to_vector<float>();
    int64_t mismatches = 0;
    for (int64_t i = 0; i < p; ++i) {
      if (std::isnan(ref[i])) {
        mismatches += !std::isnan(got[i]);
        continue;
      }
      uint32_t a, b;
      std::memcpy(&a, &got[i], 4);
      std::memcpy(&b, &ref[i], 4);
      mismatches += a != b;
    }
    EXPECT_EQ(mismatches, 0) << (half ? "f16 -> f32" : "bf16 -> f32");
  }

  Tensor doubles = Tensor::empty({n}, DType::f64, Device::cuda());
  Tensor back = testing::poisoned({n});
  kernels::cuda::convert_f32_to_f64(n, input.data<float>(), doubles.data<double>());
  kernels::cuda::convert_f64_to_f32(n, doubles.data<double>(), back.data<float>());
  EXPECT_EQ(back.to_vector<float>(), values) << "f32 -> f64 -> f32 round trip";
#endif
}

}  // namespace
}  // namespace pneuma
