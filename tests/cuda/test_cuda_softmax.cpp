// CUDA softmax and log-softmax against the CPU reference, forward and backward, for one column, a handful, a
// thousand and several thousand columns, with NaN-poisoned outputs.
#include <gtest/gtest.h>

#include <string>

#include "kernels/softmax.h"
#include "tests/cuda/cuda_test_support.h"

namespace pneuma {
namespace {

TEST(CudaSoftmax, ForwardAndBackwardMatchCpu) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  struct Case {
    int64_t rows, cols;
  };
  uint64_t seed = 3;
  for (const Case& c : {Case{3, 1}, Case{37, 3}, Case{129, 1000}, Case{2, 4099}, Case{1000, 17}}) {
    SCOPED_TRACE(std::to_string(c.rows) + "x" + std::to_string(c.cols));
    const Shape shape = {c.rows, c.cols};
    const Tensor x = testing::random_normal(shape, 0, 4, seed += 3);
    const Tensor dy = testing::random_normal(shape, 0, 1, seed + 1);
    for (bool logarithmic : {false, true}) {
      const std::string name = logarithmic ? "log_softmax" : "softmax";
      Tensor y_ref = Tensor::empty(shape), dx_ref = Tensor::empty(shape);
      if (logarithmic) {
        kernels::cpu::log_softmax_forward<float>(c.rows, c.cols, x.data<float>(), y_ref.data<float>());
        kernels::cpu::log_softmax_backward<float>(c.rows, c.cols, y_ref.data<float>(), dy.data<float>(), dx_ref.data<float>());
      } else {
        kernels::cpu::softmax_forward<float>(c.rows, c.cols, x.data<float>(), y_ref.data<float>());
        kernels::cpu::softmax_backward<float>(c.rows, c.cols, y_ref.data<float>(), dy.data<float>(), dx_ref.data<float>());
      }
      // The backward runs on the CPU's forward output so the two backward passes see the same input.
      const Tensor x_gpu = testing::on_gpu(x), dy_gpu = testing::on_gpu(dy), y_ref_gpu = testing::on_gpu(y_ref);
      Tensor y = testing::poisoned(shape), dx = testing::poisoned(shape);
      if (logarithmic) {
        kernels::cuda::log_softmax_forward<float>(c.rows, c.cols, x_gpu.data<float>(), y.data<float>());
        kernels::cuda::log_softmax_backward<float>(c.rows, c.cols, y_ref_gpu.data<float>(), dy_gpu.data<float>(), dx.data<float>());
      } else {
        kernels::cuda::softmax_forward<float>(c.rows, c.cols, x_gpu.data<float>(), y.data<float>());
        kernels::cuda::softmax_backward<float>(c.rows, c.cols, y_ref_gpu.data<float>(), dy_gpu.data<float>(), dx.data<float>());
      }
      EXPECT_TRUE(testing::expect_close(name + ".forward", y, y_ref, {.atol = 1e-6, .rtol = 1e-5}));
      EXPECT_TRUE(testing::expect_close(name + ".backward", dx, dx_ref, {.atol = 1e-6, .rtol = 1e-5}));
    }
  }
#endif
}

}  // namespace
}  // namespace pneuma
