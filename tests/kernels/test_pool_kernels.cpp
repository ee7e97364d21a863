// CPU pooling kernels (max / average with per-side padding, global average pool, channel scale) against naive
// double-precision loops, PyTorch values for ceil-mode windows, finite differences and thread-count determinism.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/error.h"
#include "kernels/parallel.h"
#include "kernels/pool.h"

namespace {

using pneuma::kernels::Pool2dShape;
namespace kernels = pneuma::kernels;
namespace cpu = pneuma::kernels::cpu;

struct PoolCase {
  std::string name;
  Pool2dShape shape;
};

// Output size defaults to PyTorch's floor formula; pass it explicitly for ceil-mode-like windows.
Pool2dShape make_shape(int64_t batch, int64_t height, int64_t width, int64_t channels, int64_t kernel_height,
                       int64_t kernel_width, int64_t stride_height, int64_t stride_width, int64_t top, int64_t left,
                       int64_t bottom, int64_t right, int64_t out_height = 0, int64_t out_width = 0) {
  Pool2dShape s;
  s.batch = batch, s.in_height = height, s.in_width = width, s.channels = channels;
  s.kernel_height = kernel_height, s.kernel_width = kernel_width;
  s.stride_height = stride_height, s.stride_width = stride_width;
  s.pad_top = top, s.pad_left = left, s.pad_bottom = bottom, s.pad_right = right;
  s.out_height = out_height ? out_height : (height + top + bottom - kernel_height) / stride_height + 1;
  s.out_width = out_width ? out_width : (width + left + right - kernel_width) / stride_width + 1;
  return s;
}

std::vector<PoolCase> pool_cases() {
  return {
      {"3x3 stride 2 pad 1", make_shape(1, 7, 9, 3, 3, 3, 2, 2, 1, 1, 1, 1)},
      {"3x2 stride (2,1) asymmetric pad", make_shape(3, 8, 5, 17, 3, 2, 2, 1, 0, 1, 1, 0)},
      {"2x2 stride 2 drops last row", make_shape(3, 5, 6, 5, 2, 2, 2, 2, 0, 0, 0, 0)},
      {"3x3 stride 1 same", make_shape(1, 6, 6, 5, 3, 3, 1, 1, 1, 1, 1, 1)},
      {"5x5 stride 3 asymmetric pad", make_shape(1, 11, 7, 3, 5, 5, 3, 3, 2, 0, 2, 1)},
      {"3x3 stride 2 ceil-mode window", make_shape(3, 6, 6, 3, 3, 3, 2, 2, 0, 0, 0, 0, 3, 3)},
      {"1x1 stride 2", make_shape(1, 5, 5, 3, 1, 1, 2, 2, 0, 0, 0, 0)},
  };
}

int64_t input_count(const Pool2dShape& s) { return s.batch * s.in_height * s.in_width * s.channels; }
int64_t output_count(const Pool2dShape& s) { return s.batch * s.out_height * s.out_width * s.channels; }

template <class T>
std::vector<T> random_values(size_t count, uint32_t seed, double low = -1.0, double high = 1.0) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<double> uniform(low, high);
  std::vector<T> values(count);
  for (T& v : values) v = static_cast<T>(uniform(generator));
  return values;
}

// Distinct values at least 1e-3 apart (a shuffled ramp): max pooling has no ties and finite differences never
// change a window's winner.
std::vector<double> distinct_values(size_t count, uint32_t seed) {
  std::vector<double> values(count);
  for (size_t i = 0; i < count; ++i) values[i] = -1.0 + 1e-3 * static_cast<double>(i);
  std::shuffle(values.begin(), values.end(), std::mt19937(seed));
  return values;
}

template <class T>
std::vector<T> nan_filled(size_t count) {
  return std::vector<T>(count, std::numeric_limits<T>::quiet_NaN());
}

template <class To, class From>
std::vector<To> converted(const std::vector<From>& values) {
  return std::vector<To>(values.begin(), values.end());
}

template <class T>
void expect_all_close(const std::vector<T>& got, const std::vector<double>& want, double tolerance,
                      const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_TRUE(std::isfinite(static_cast<double>(got[i])) &&
                std::abs(static_cast<double>(got[i]) - want[i]) <= tolerance * (1.0 + std::abs(want[i])))
        << what << " element " << i << ": got " << got[i] << ", want " << want[i];
}

int64_t input_index(const Pool2dShape& s, int64_t b, int64_t h, int64_t w, int64_t c) {
  return ((b * s.in_height + h) * s.in_width + w) * s.channels + c;
}
int64_t output_index(const Pool2dShape& s, int64_t b, int64_t oh, int64_t ow, int64_t c) {
  return ((b * s.out_height + oh) * s.out_width + ow) * s.channels + c;
}

// Calls visit(h, w, valid, inside_padded_extent) for every kernel position of output (oh, ow).
template <class Visit>
void for_each_window_position(const Pool2dShape& s, int64_t oh, int64_t ow, Visit&& visit) {
  for (int64_t i = 0; i < s.kernel_height; ++i)
    for (int64_t j = 0; j < s.kernel_width; ++j) {
      const int64_t h = oh * s.stride_height - s.pad_top + i, w = ow * s.stride_width - s.pad_left + j;
      const bool valid = h >= 0 && h < s.in_height && w >= 0 && w < s.in_width;
      const bool padded = h < s.in_height + s.pad_bottom && w < s.in_width + s.pad_right;
      visit(h, w, valid, padded);
    }
}

struct MaxReference {
  std::vector<double> output;
  std::vector<int32_t> argmax;
};

// First maximum in row-major window order wins; a NaN always takes over (so the last NaN wins), as in PyTorch.
MaxReference reference_max_pool(const Pool2dShape& s, const std::vector<double>& x) {
  MaxReference r{std::vector<double>(output_count(s)), std::vector<int32_t>(output_count(s))};
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t oh = 0; oh < s.out_height; ++oh)
      for (int64_t ow = 0; ow < s.out_width; ++ow)
        for (int64_t c = 0; c < s.channels; ++c) {
          double best = -std::numeric_limits<double>::infinity();
          int32_t where = -1;
          for_each_window_position(s, oh, ow, [&](int64_t h, int64_t w, bool valid, bool) {
            const double v = valid ? x[input_index(s, b, h, w, c)] : 0.0;
            if (valid && (where < 0 || v > best || std::isnan(v))) {
              best = x[input_index(s, b, h, w, c)];
              where = static_cast<int32_t>(h * s.in_width + w);
            }
          });
          r.output[output_index(s, b, oh, ow, c)] = best;
          r.argmax[output_index(s, b, oh, ow, c)] = where;
        }
  return r;
}

std::vector<double> reference_max_pool_backward(const Pool2dShape& s, const std::vector<int32_t>& argmax,
                                                const std::vector<double>& grad_output) {
  std::vector<double> grad_input(input_count(s), 0.0);
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t oh = 0; oh < s.out_height; ++oh)
      for (int64_t ow = 0; ow < s.out_width; ++ow)
        for (int64_t c = 0; c < s.channels; ++c) {
          const int64_t o = output_index(s, b, oh, ow, c);
          grad_input[input_index(s, b, argmax[o] / s.in_width, argmax[o] % s.in_width, c)] += grad_output[o];
        }
  return grad_input;
}

// Divisor: valid positions, or with count_include_pad the positions inside the padded extent.
int64_t reference_divisor(const Pool2dShape& s, int64_t oh, int64_t ow) {
  int64_t count = 0;
  for_each_window_position(
      s, oh, ow, [&](int64_t, int64_t, bool valid, bool padded) { count += s.count_include_pad ? padded : valid; });
  return count;
}

std::vector<double> reference_avg_pool(const Pool2dShape& s, const std::vector<double>& x) {
  std::vector<double> y(output_count(s));
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t oh = 0; oh < s.out_height; ++oh)
      for (int64_t ow = 0; ow < s.out_width; ++ow)
        for (int64_t c = 0; c < s.channels; ++c) {
          double sum = 0;
          for_each_window_position(s, oh, ow, [&](int64_t h, int64_t w, bool valid, bool) {
            if (valid) sum += x[input_index(s, b, h, w, c)];
          });
          y[output_index(s, b, oh, ow, c)] = sum / static_cast<double>(reference_divisor(s, oh, ow));
        }
  return y;
}

std::vector<double> reference_avg_pool_backward(const Pool2dShape& s, const std::vector<double>& grad_output) {
  std::vector<double> grad_input(input_count(s), 0.0);
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t oh = 0; oh < s.out_height; ++oh)
      for (int64_t ow = 0; ow < s.out_width; ++ow)
        for (int64_t c = 0; c < s.channels; ++c) {
          const double share = grad_output[output_index(s, b, oh, ow, c)] / reference_divisor(s, oh, ow);
          for_each_window_position(s, oh, ow, [&](int64_t h, int64_t w, bool valid, bool) {
            if (valid) grad_input[input_index(s, b, h, w, c)] += share;
          });
        }
  return grad_input;
}

// Central-difference gradient of loss at x, one element at a time.
template <class Loss>
std::vector<double> numeric_gradient(const std::vector<double>& x, Loss&& loss, double eps = 1e-6) {
  std::vector<double> gradient(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    std::vector<double> plus = x, minus = x;
    plus[i] += eps;
    minus[i] -= eps;
    gradient[i] = (loss(plus) - loss(minus)) / (2 * eps);
  }
  return gradient;
}

double weighted_sum(const std::vector<double>& weights, const std::vector<double>& values) {
  return std::inner_product(weights.begin(), weights.end(), values.begin(), 0.0);
}

template <class T>
constexpr double kTolerance = std::is_same_v<T, float> ? 2e-6 : 1e-13;

template <class T>
class PoolKernels : public ::testing::Test {};
using FloatingTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(PoolKernels, FloatingTypes);

TYPED_TEST(PoolKernels, MaxPoolForwardAndBackwardMatchReference) {
  using T = TypeParam;
  uint32_t seed = 1;
  for (const PoolCase& test : pool_cases()) {
    const Pool2dShape& s = test.shape;
    const std::vector<T> input = random_values<T>(input_count(s), ++seed);
    const std::vector<T> grad_output = random_values<T>(output_count(s), ++seed);
    const MaxReference want = reference_max_pool(s, converted<double>(input));

    std::vector<T> output = nan_filled<T>(output_count(s)), output_without_argmax = nan_filled<T>(output_count(s));
    std::vector<int32_t> argmax(output_count(s), -7);
    cpu::max_pool2d_forward(s, input.data(), output.data(), argmax.data());
    cpu::max_pool2d_forward(s, input.data(), output_without_argmax.data(), static_cast<int32_t*>(nullptr));
    expect_all_close(output, want.output, 0.0, test.name + " max forward");
    EXPECT_EQ(argmax, want.argmax) << test.name;
    EXPECT_EQ(converted<double>(output_without_argmax), converted<double>(output)) << test.name;

    const std::vector<double> want_grad = reference_max_pool_backward(s, want.argmax, converted<double>(grad_output));
    std::vector<T> grad_input = nan_filled<T>(input_count(s)), grad_input_recomputed = nan_filled<T>(input_count(s));
    cpu::max_pool2d_backward(s, input.data(), argmax.data(), grad_output.data(), grad_input.data());
    cpu::max_pool2d_backward(s, input.data(), static_cast<const int32_t*>(nullptr), grad_output.data(),
                             grad_input_recomputed.data());
    expect_all_close(grad_input, want_grad, kTolerance<T>, test.name + " max backward");
    expect_all_close(grad_input_recomputed, want_grad, kTolerance<T>, test.name + " max backward, no argmax");
  }
}

// Many equal values: the first maximum in the window (row-major) wins, as in PyTorch, and its index is reported.
TEST(PoolKernels, MaxPoolTiesPickFirstLikePyTorch) {
  const Pool2dShape s = make_shape(3, 7, 8, 5, 3, 3, 2, 2, 1, 1, 1, 1);
  std::mt19937 generator(5);
  std::uniform_int_distribution<int> small(0, 2);
  std::vector<float> input(input_count(s));
  for (float& v : input) v = static_cast<float>(small(generator));
  const MaxReference want = reference_max_pool(s, converted<double>(input));
  std::vector<float> output = nan_filled<float>(output_count(s));
  std::vector<int32_t> argmax(output_count(s), -7);
  cpu::max_pool2d_forward(s, input.data(), output.data(), argmax.data());
  EXPECT_EQ(argmax, want.argmax);
  EXPECT_EQ(converted<double>(output), want.output);
}

// PyTorch 1.13 (both memory formats): max_pool2d of a 4x4 ramp with NaN at (0,1) and (1,0), 2x2 stride 2, gives
// NaN with index 4 (the last NaN) in the first window.
TEST(PoolKernels, MaxPoolPropagatesNaNLikePyTorch) {
  const Pool2dShape s = make_shape(1, 4, 4, 3, 2, 2, 2, 2, 0, 0, 0, 0);
  std::vector<float> input(input_count(s));
  for (int64_t pixel = 0; pixel < 16; ++pixel)
    for (int64_t c = 0; c < 3; ++c) input[pixel * 3 + c] = static_cast<float>(pixel);
  for (int64_t c = 0; c < 3; ++c) input[1 * 3 + c] = input[4 * 3 + c] = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> output(output_count(s), 0.0f);
  std::vector<int32_t> argmax(output_count(s), -7);
  cpu::max_pool2d_forward(s, input.data(), output.data(), argmax.data());
  const float want_value[] = {std::numeric_limits<float>::quiet_NaN(), 7, 13, 15};
  const int32_t want_index[] = {4, 7, 13, 15};
  for (int64_t window = 0; window < 4; ++window)
    for (int64_t c = 0; c < 3; ++c) {
      const float got = output[window * 3 + c];
      EXPECT_TRUE(window == 0 ? std::isnan(got) : got == want_value[window]) << "window " << window;
      EXPECT_EQ(argmax[window * 3 + c], want_index[window]) << "window " << window;
    }
}

TYPED_TEST(PoolKernels, AvgPoolForwardAndBackwardMatchReference) {
  using T = TypeParam;
  uint32_t seed = 50;
  for (PoolCase test : pool_cases()) {
    for (bool include_pad : {false, true}) {
      Pool2dShape& s = test.shape;
      s.count_include_pad = include_pad;
      const std::string name = test.name + (include_pad ? " count_include_pad" : " valid only");
      const std::vector<T> input = random_values<T>(input_count(s), ++seed);
      const std::vector<T> grad_output = random_values<T>(output_count(s), ++seed);
      std::vector<T> output = nan_filled<T>(output_count(s)), grad_input = nan_filled<T>(input_count(s));
      cpu::avg_pool2d_forward(s, input.data(), output.data());
      cpu::avg_pool2d_backward(s, grad_output.data(), grad_input.data());
      expect_all_close(output, reference_avg_pool(s, converted<double>(input)), kTolerance<T>, name + " forward");
      expect_all_close(grad_input, reference_avg_pool_backward(s, converted<double>(grad_output)), kTolerance<T>,
                       name + " backward");
    }
  }
}

// F.avg_pool2d(torch.arange(36.).reshape(1,1,6,6), 3, 2, padding, ceil_mode=True, count_include_pad=...) in
// PyTorch 1.13: the last window hangs past the padded edge and is divided by its part inside the padded extent.
TEST(PoolKernels, AvgPoolCeilModeWindowsMatchPyTorch) {
  const struct {
    int64_t pad;
    bool count_include_pad;
    std::vector<double> want;
  } table[] = {
      {0, true, {7.0, 9.0, 10.5, 19.0, 21.0, 22.5, 28.0, 30.0, 31.5}},
      {1,
       true,
       {1.5555555555555556, 3.3333333333333335, 4.666666666666667, 2.6666666666666665, 8.333333333333334, 14.0, 16.0,
        8.5, 16.333333333333332, 26.0, 28.0, 14.5, 10.166666666666666, 16.0, 17.0, 8.75}},
      {1, false, {3.5, 5.0, 7.0, 8.0, 12.5, 14.0, 16.0, 17.0, 24.5, 26.0, 28.0, 29.0, 30.5, 32.0, 34.0, 35.0}},
  };
  std::vector<double> input(36);
  std::iota(input.begin(), input.end(), 0.0);
  for (const auto& row : table) {
    const int64_t out = row.pad ? 4 : 3;
    Pool2dShape s = make_shape(1, 6, 6, 1, 3, 3, 2, 2, row.pad, row.pad, row.pad, row.pad, out, out);
    s.count_include_pad = row.count_include_pad;
    std::vector<double> output = nan_filled<double>(output_count(s));
    cpu::avg_pool2d_forward(s, input.data(), output.data());
    expect_all_close(output, row.want, 1e-14, "ceil mode pad " + std::to_string(row.pad));
  }
}

TEST(PoolKernels, BackwardMatchesFiniteDifferences) {
  const Pool2dShape shapes[] = {make_shape(1, 5, 7, 3, 3, 3, 2, 2, 1, 0, 1, 1),
                                make_shape(3, 4, 3, 2, 2, 3, 1, 2, 1, 1, 0, 1)};
  uint32_t seed = 90;
  for (Pool2dShape s : shapes) {
    const std::vector<double> input = distinct_values(input_count(s), ++seed);
    const std::vector<double> weights = random_values<double>(output_count(s), ++seed);

    auto max_loss = [&](const std::vector<double>& x) {
      std::vector<double> y(output_count(s));
      cpu::max_pool2d_forward(s, x.data(), y.data(), static_cast<int32_t*>(nullptr));
      return weighted_sum(weights, y);
    };
    std::vector<double> grad_input = nan_filled<double>(input_count(s));
    cpu::max_pool2d_backward(s, input.data(), static_cast<const int32_t*>(nullptr), weights.data(), grad_input.data());
    expect_all_close(grad_input, numeric_gradient(input, max_loss), 1e-8, "max pool finite differences");

    for (bool include_pad : {false, true}) {
      s.count_include_pad = include_pad;
      auto avg_loss = [&](const std::vector<double>& x) {
        std::vector<double> y(output_count(s));
        cpu::avg_pool2d_forward(s, x.data(), y.data());
        return weighted_sum(weights, y);
      };
      grad_input = nan_filled<double>(input_count(s));
      cpu::avg_pool2d_backward(s, weights.data(), grad_input.data());
      expect_all_close(grad_input, numeric_gradient(input, avg_loss), 1e-8, "avg pool finite differences");
    }
  }
}

TEST(PoolKernels, RejectsWindowsOutsideTheImage) {
  std::vector<float> input(64, 1.0f), output(64);
  Pool2dShape padding_as_large_as_kernel = make_shape(1, 4, 4, 1, 2, 2, 1, 1, 2, 0, 0, 0);
  EXPECT_THROW(cpu::avg_pool2d_forward(padding_as_large_as_kernel, input.data(), output.data()), pneuma::Error);
  Pool2dShape output_too_tall = make_shape(1, 4, 4, 1, 2, 2, 2, 2, 0, 0, 0, 0, 4, 2);
  EXPECT_THROW(cpu::max_pool2d_forward(output_too_tall, input.data(), output.data(), static_cast<int32_t*>(nullptr)),
               pneuma::Error);
}

struct GlobalCase {
  int64_t batch, pixels, channels;
};
const GlobalCase kGlobalCases[] = {{1, 1, 3}, {3, 49, 17}, {1, 63, 5}, {2, 3001, 17}};

TYPED_TEST(PoolKernels, GlobalAvgPoolAndChannelScaleMatchReference) {
  using T = TypeParam;
  uint32_t seed = 200;
  for (const GlobalCase& g : kGlobalCases) {
    const size_t image_count = static_cast<size_t>(g.batch * g.pixels * g.channels);
    const size_t vector_count = static_cast<size_t>(g.batch * g.channels);
    const std::string name =
        std::to_string(g.batch) + "x" + std::to_string(g.pixels) + "x" + std::to_string(g.channels);
    const std::vector<T> input = random_values<T>(image_count, ++seed);
    const std::vector<T> grad_image = random_values<T>(image_count, ++seed);
    const std::vector<T> scale = random_values<T>(vector_count, ++seed);
    const std::vector<T> grad_vector = random_values<T>(vector_count, ++seed);

    std::vector<double> want_pool(vector_count, 0.0), want_pool_grad(image_count), want_scaled(image_count),
        want_scaled_grad(image_count), want_scale_grad(vector_count, 0.0);
    for (int64_t b = 0; b < g.batch; ++b)
      for (int64_t p = 0; p < g.pixels; ++p)
        for (int64_t c = 0; c < g.channels; ++c) {
          const int64_t i = (b * g.pixels + p) * g.channels + c, v = b * g.channels + c;
          want_pool[v] += static_cast<double>(input[i]) / static_cast<double>(g.pixels);
          want_pool_grad[i] = static_cast<double>(grad_vector[v]) / static_cast<double>(g.pixels);
          want_scaled[i] = static_cast<double>(input[i]) * scale[v];
          want_scaled_grad[i] = static_cast<double>(grad_image[i]) * scale[v];
          want_scale_grad[v] += static_cast<double>(grad_image[i]) * input[i];
        }

    std::vector<T> pooled = nan_filled<T>(vector_count), pool_grad = nan_filled<T>(image_count);
    cpu::global_avg_pool_forward(g.batch, g.pixels, g.channels, input.data(), pooled.data());
    cpu::global_avg_pool_backward(g.batch, g.pixels, g.channels, grad_vector.data(), pool_grad.data());
    expect_all_close(pooled, want_pool, kTolerance<T>, name + " global pool forward");
    expect_all_close(pool_grad, want_pool_grad, kTolerance<T>, name + " global pool backward");

    std::vector<T> scaled = nan_filled<T>(image_count), scaled_grad = nan_filled<T>(image_count),
                   scale_grad = nan_filled<T>(vector_count);
    cpu::channel_scale_forward(g.batch, g.pixels, g.channels, input.data(), scale.data(), scaled.data());
    cpu::channel_scale_backward(g.batch, g.pixels, g.channels, input.data(), scale.data(), grad_image.data(),
                                scaled_grad.data(), scale_grad.data());
    expect_all_close(scaled, want_scaled, kTolerance<T>, name + " channel scale forward");
    expect_all_close(scaled_grad, want_scaled_grad, kTolerance<T>, name + " channel scale grad_input");
    // Sums of up to 3001 products: tolerance relative to the sum of magnitudes, about sqrt(pixels)·|term|.
    expect_all_close(scale_grad, want_scale_grad, 20 * kTolerance<T>, name + " channel scale grad_scale");

    // Either gradient alone.
    std::vector<T> scale_grad_only = nan_filled<T>(vector_count), input_grad_only = nan_filled<T>(image_count);
    cpu::channel_scale_backward(g.batch, g.pixels, g.channels, input.data(), scale.data(), grad_image.data(),
                                static_cast<T*>(nullptr), scale_grad_only.data());
    cpu::channel_scale_backward(g.batch, g.pixels, g.channels, input.data(), scale.data(), grad_image.data(),
                                input_grad_only.data(), static_cast<T*>(nullptr));
    EXPECT_EQ(converted<double>(scale_grad_only), converted<double>(scale_grad)) << name;
    EXPECT_EQ(converted<double>(input_grad_only), converted<double>(scaled_grad)) << name;
  }
}

TEST(PoolKernels, GlobalAvgPoolAndChannelScaleMatchFiniteDifferences) {
  const int64_t batch = 3, pixels = 5, channels = 3;
  const size_t image_count = batch * pixels * channels, vector_count = batch * channels;
  const std::vector<double> input = random_values<double>(image_count, 301);
  const std::vector<double> scale = random_values<double>(vector_count, 302);
  const std::vector<double> image_weights = random_values<double>(image_count, 303);
  const std::vector<double> vector_weights = random_values<double>(vector_count, 304);

  auto pool_loss = [&](const std::vector<double>& x) {
    std::vector<double> y(vector_count);
    cpu::global_avg_pool_forward(batch, pixels, channels, x.data(), y.data());
    return weighted_sum(vector_weights, y);
  };
  std::vector<double> grad = nan_filled<double>(image_count);
  cpu::global_avg_pool_backward(batch, pixels, channels, vector_weights.data(), grad.data());
  expect_all_close(grad, numeric_gradient(input, pool_loss), 1e-8, "global pool finite differences");

  auto loss_of = [&](const std::vector<double>& x, const std::vector<double>& factors) {
    std::vector<double> y(image_count);
    cpu::channel_scale_forward(batch, pixels, channels, x.data(), factors.data(), y.data());
    return weighted_sum(image_weights, y);
  };
  std::vector<double> grad_input = nan_filled<double>(image_count), grad_scale = nan_filled<double>(vector_count);
  cpu::channel_scale_backward(batch, pixels, channels, input.data(), scale.data(), image_weights.data(),
                              grad_input.data(), grad_scale.data());
  expect_all_close(grad_input, numeric_gradient(input, [&](const std::vector<double>& x) { return loss_of(x, scale); }),
                   1e-8, "channel scale grad_input finite differences");
  expect_all_close(grad_scale, numeric_gradient(scale, [&](const std::vector<double>& f) { return loss_of(input, f); }),
                   1e-8, "channel scale grad_scale finite differences");
}

// The reductions (global pool forward, grad_scale) combine fixed chunks in order: same bits for 1 and 2 threads.
// (In double the last bits show any change of summation order; float results usually round it away.)
TYPED_TEST(PoolKernels, ReductionsAreBitIdenticalAcrossThreadCounts) {
  using T = TypeParam;
  const int64_t batch = 2, pixels = 20001, channels = 5;
  const size_t image_count = batch * pixels * channels, vector_count = batch * channels;
  const std::vector<T> input = random_values<T>(image_count, 401);
  const std::vector<T> grad_image = random_values<T>(image_count, 402);
  const std::vector<T> scale = random_values<T>(vector_count, 403);
  const int saved_threads = kernels::max_threads();
  std::vector<T> pooled[2], grad_scale[2];
  for (int run = 0; run < 2; ++run) {
    kernels::set_max_threads(run + 1);
    pooled[run] = nan_filled<T>(vector_count);
    grad_scale[run] = nan_filled<T>(vector_count);
    cpu::global_avg_pool_forward(batch, pixels, channels, input.data(), pooled[run].data());
    cpu::channel_scale_backward(batch, pixels, channels, input.data(), scale.data(), grad_image.data(),
                                static_cast<T*>(nullptr), grad_scale[run].data());
  }
  kernels::set_max_threads(saved_threads);
  EXPECT_EQ(0, std::memcmp(pooled[0].data(), pooled[1].data(), vector_count * sizeof(T)));
  EXPECT_EQ(0, std::memcmp(grad_scale[0].data(), grad_scale[1].data(), vector_count * sizeof(T)));
}

}  // namespace
