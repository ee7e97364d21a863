// CUDA pooling kernels against the CPU reference: max pooling (winners identical, gradients gathered in the same
// order, so bit-identical), average pooling with and without the padding in the divisor, asymmetric (SAME-style)
// padding and overlapping windows, global average pooling and the squeeze-excitation channel scale, forward and
// backward, with NaN-poisoned outputs.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/pool.h"
#include "tests/cuda/cuda_test_support.h"

namespace pneuma {
namespace {

#if PNEUMA_WITH_CUDA
kernels::Pool2dShape pool_shape(int64_t batch, int64_t height, int64_t width, int64_t channels, int64_t kernel,
                                int64_t stride, int64_t pad_before, int64_t pad_after, bool count_include_pad) {
  kernels::Pool2dShape s;
  s.batch = batch;
  s.in_height = height;
  s.in_width = width;
  s.channels = channels;
  s.kernel_height = s.kernel_width = kernel;
  s.stride_height = s.stride_width = stride;
  s.pad_top = s.pad_left = pad_before;
  s.pad_bottom = s.pad_right = pad_after;
  s.count_include_pad = count_include_pad;
  s.out_height = kernels::conv_output_size(height, kernel, stride, pad_before, pad_after, 1);
  s.out_width = kernels::conv_output_size(width, kernel, stride, pad_before, pad_after, 1);
  return s;
}

std::string describe(const kernels::Pool2dShape& s) {
  return "[" + std::to_string(s.batch) + "," + std::to_string(s.in_height) + "," + std::to_string(s.in_width) + "," +
         std::to_string(s.channels) + "] k" + std::to_string(s.kernel_height) + " s" + std::to_string(s.stride_height) +
         " pad " + std::to_string(s.pad_top) + "/" + std::to_string(s.pad_bottom) +
         (s.count_include_pad ? " include_pad" : "");
}

void check_pool(const kernels::Pool2dShape& s, uint64_t seed) {
  SCOPED_TRACE(describe(s));
  const Shape in_shape = {s.batch, s.in_height, s.in_width, s.channels};
  const Shape out_shape = {s.batch, s.out_height, s.out_width, s.channels};
  const Tensor x = testing::random_normal(in_shape, 0, 1, seed);
  const Tensor dy = testing::random_normal(out_shape, 0, 1, seed + 1);
  Tensor max_ref = Tensor::empty(out_shape), argmax_ref = Tensor::empty(out_shape, DType::i32);
  Tensor max_dx_ref = Tensor::empty(in_shape), avg_ref = Tensor::empty(out_shape), avg_dx_ref = Tensor::empty(in_shape);
  kernels::cpu::max_pool2d_forward<float>(s, x.data<float>(), max_ref.data<float>(), argmax_ref.data<int32_t>());
  kernels::cpu::max_pool2d_backward<float>(s, nullptr, argmax_ref.data<int32_t>(), dy.data<float>(),
                                           max_dx_ref.data<float>());
  kernels::cpu::avg_pool2d_forward<float>(s, x.data<float>(), avg_ref.data<float>());
  kernels::cpu::avg_pool2d_backward<float>(s, dy.data<float>(), avg_dx_ref.data<float>());

  const Tensor x_gpu = testing::on_gpu(x), dy_gpu = testing::on_gpu(dy);
  Tensor max = testing::poisoned(out_shape), max_dx = testing::poisoned(in_shape);
  Tensor max_dx_recomputed = testing::poisoned(in_shape);
  Tensor argmax = Tensor::full(out_shape, -7, DType::i32, Device::cuda());
  Tensor avg = testing::poisoned(out_shape), avg_dx = testing::poisoned(in_shape);
  kernels::cuda::max_pool2d_forward<float>(s, x_gpu.data<float>(), max.data<float>(), argmax.data<int32_t>());
  kernels::cuda::max_pool2d_backward<float>(s, nullptr, argmax.data<int32_t>(), dy_gpu.data<float>(),
                                            max_dx.data<float>());
  kernels::cuda::max_pool2d_backward<float>(s, x_gpu.data<float>(), nullptr, dy_gpu.data<float>(),
                                            max_dx_recomputed.data<float>());
  kernels::cuda::avg_pool2d_forward<float>(s, x_gpu.data<float>(), avg.data<float>());
  kernels::cuda::avg_pool2d_backward<float>(s, dy_gpu.data<float>(), avg_dx.data<float>());
  EXPECT_TRUE(testing::expect_identical("max_pool.forward", max, max_ref));
  EXPECT_EQ(argmax.to_vector<int32_t>(), argmax_ref.to_vector<int32_t>()) << "max_pool winners";
  EXPECT_TRUE(testing::expect_identical("max_pool.backward", max_dx, max_dx_ref));
  EXPECT_TRUE(testing::expect_identical("max_pool.backward_recomputed", max_dx_recomputed, max_dx_ref));
  EXPECT_TRUE(testing::expect_close("avg_pool.forward", avg, avg_ref, {.atol = 1e-6, .rtol = 1e-6}));
  EXPECT_TRUE(testing::expect_close("avg_pool.backward", avg_dx, avg_dx_ref, {.atol = 1e-6, .rtol = 1e-6}));
}
#endif

TEST(CudaPool, MaxAndAveragePoolingMatchCpu) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  uint64_t seed = 1;
  for (bool include_pad : {true, false}) {
    check_pool(pool_shape(3, 17, 17, 37, 3, 2, 1, 1, include_pad), seed += 2);  // overlapping, symmetric pad
    check_pool(pool_shape(3, 17, 17, 37, 3, 2, 0, 1, include_pad), seed += 2);  // SAME-style: pad after only
    check_pool(pool_shape(2, 16, 16, 1, 2, 2, 0, 0, include_pad), seed += 2);   // one channel, tiling windows
    check_pool(pool_shape(1, 9, 9, 4099, 5, 1, 2, 2, include_pad), seed += 2);  // many channels, stride 1
    check_pool(pool_shape(1, 1, 1, 3, 1, 1, 0, 0, include_pad), seed += 2);     // one pixel
  }
#endif
}

TEST(CudaPool, MaxPoolingPrefersNanAndFirstOfTies) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  const kernels::Pool2dShape s = pool_shape(1, 4, 4, 2, 2, 2, 0, 0, false);
  std::vector<float> values(32, 1.0f);  // all ties
  values[2 * 5 + 1] = std::numeric_limits<float>::quiet_NaN();  // pixel (1,1), channel 1
  const Tensor x = Tensor::from_vector(values, {1, 4, 4, 2});
  Tensor argmax_ref = Tensor::empty({1, 2, 2, 2}, DType::i32), y_ref = Tensor::empty({1, 2, 2, 2});
  kernels::cpu::max_pool2d_forward<float>(s, x.data<float>(), y_ref.data<float>(), argmax_ref.data<int32_t>());
  const Tensor x_gpu = testing::on_gpu(x);
  Tensor argmax = Tensor::zeros({1, 2, 2, 2}, DType::i32, Device::cuda()), y = testing::poisoned({1, 2, 2, 2});
  kernels::cuda::max_pool2d_forward<float>(s, x_gpu.data<float>(), y.data<float>(), argmax.data<int32_t>());
  EXPECT_EQ(argmax.to_vector<int32_t>(), argmax_ref.to_vector<int32_t>());
  EXPECT_TRUE(std::isnan(y.to_vector<float>()[1]));
#endif
}

TEST(CudaPool, GlobalAveragePoolAndChannelScaleMatchCpu) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  struct Case {
    int64_t batch, pixels, channels;
  };
  uint64_t seed = 40;
  for (const Case& c : {Case{3, 17 * 17, 37}, Case{2, 70001, 1}, Case{5, 1, 4099}, Case{1, 7 * 7, 1280}}) {
    SCOPED_TRACE(std::to_string(c.batch) + "x" + std::to_string(c.pixels) + "x" + std::to_string(c.channels));
    const Shape in_shape = {c.batch, c.pixels, c.channels}, pooled_shape = {c.batch, c.channels};
    const Tensor x = testing::random_normal(in_shape, 1, 2, seed += 4);
    const Tensor scale = testing::random_uniform(pooled_shape, 0, 1, seed + 1);
    const Tensor dy = testing::random_normal(in_shape, 0, 1, seed + 2);
    const Tensor dpooled = testing::random_normal(pooled_shape, 0, 1, seed + 3);
    Tensor pooled_ref = Tensor::empty(pooled_shape), pool_dx_ref = Tensor::empty(in_shape);
    Tensor scaled_ref = Tensor::empty(in_shape), scale_dx_ref = Tensor::empty(in_shape),
           dscale_ref = Tensor::empty(pooled_shape);
    kernels::cpu::global_avg_pool_forward<float>(c.batch, c.pixels, c.channels, x.data<float>(), pooled_ref.data<float>());
    kernels::cpu::global_avg_pool_backward<float>(c.batch, c.pixels, c.channels, dpooled.data<float>(),
                                                  pool_dx_ref.data<float>());
    kernels::cpu::channel_scale_forward<float>(c.batch, c.pixels, c.channels, x.data<float>(), scale.data<float>(),
                                               scaled_ref.data<float>());
    kernels::cpu::channel_scale_backward<float>(c.batch, c.pixels, c.channels, x.data<float>(), scale.data<float>(),
                                                dy.data<float>(), scale_dx_ref.data<float>(), dscale_ref.data<float>());

    const Tensor x_gpu = testing::on_gpu(x), scale_gpu = testing::on_gpu(scale), dy_gpu = testing::on_gpu(dy),
                 dpooled_gpu = testing::on_gpu(dpooled);
    Tensor pooled = testing::poisoned(pooled_shape), pool_dx = testing::poisoned(in_shape);
    Tensor scaled = testing::poisoned(in_shape), scale_dx = testing::poisoned(in_shape),
           dscale = testing::poisoned(pooled_shape), dscale_only = testing::poisoned(pooled_shape);
    kernels::cuda::global_avg_pool_forward<float>(c.batch, c.pixels, c.channels, x_gpu.data<float>(),
                                                  pooled.data<float>());
    kernels::cuda::global_avg_pool_backward<float>(c.batch, c.pixels, c.channels, dpooled_gpu.data<float>(),
                                                   pool_dx.data<float>());
    kernels::cuda::channel_scale_forward<float>(c.batch, c.pixels, c.channels, x_gpu.data<float>(),
                                                scale_gpu.data<float>(), scaled.data<float>());
    kernels::cuda::channel_scale_backward<float>(c.batch, c.pixels, c.channels, x_gpu.data<float>(),
                                                 scale_gpu.data<float>(), dy_gpu.data<float>(), scale_dx.data<float>(),
                                                 dscale.data<float>());
    kernels::cuda::channel_scale_backward<float>(c.batch, c.pixels, c.channels, x_gpu.data<float>(),
                                                 scale_gpu.data<float>(), dy_gpu.data<float>(), nullptr,
                                                 dscale_only.data<float>());
    EXPECT_TRUE(testing::expect_close("global_avg_pool.forward", pooled, pooled_ref, {.atol = 1e-6, .rtol = 1e-6}));
    EXPECT_TRUE(testing::expect_identical("global_avg_pool.backward", pool_dx, pool_dx_ref));
    EXPECT_TRUE(testing::expect_identical("channel_scale.forward", scaled, scaled_ref));
    EXPECT_TRUE(testing::expect_identical("channel_scale.grad_input", scale_dx, scale_dx_ref));
    const double sum_scale = std::sqrt(static_cast<double>(c.pixels));
    EXPECT_TRUE(testing::expect_close("channel_scale.grad_scale", dscale, dscale_ref, {.atol = 1e-6 * sum_scale, .rtol = 1e-5}));
    EXPECT_TRUE(testing::expect_identical("channel_scale.grad_scale_alone", dscale_only, dscale));
  }
#endif
}

}  // namespace
}  // namespace pneuma
