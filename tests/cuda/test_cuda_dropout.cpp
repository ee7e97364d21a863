// Dropout and drop-path on CUDA draw the CPU's Philox masks bit for bit: the kernels' outputs and gradients, and
// the ops (same Generator seed on both devices), are identical to the CPU's — not merely close.
#include <gtest/gtest.h>

#include <string>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "kernels/dropout.h"
#include "tests/cuda/cuda_test_support.h"

namespace pneuma {
namespace {

TEST(CudaDropout, KernelMasksAreBitIdenticalToCpu) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  // Odd counts (a partial last Philox block), odd offsets, several probabilities, a 64-bit seed.
  struct Case {
    int64_t count;
    float p;
    uint64_t seed, offset;
  };
  for (const Case& c : {Case{3 * 17 * 17 * 37, 0.2f, 0x5eedull, 0}, Case{1, 0.5f, 7, 13}, Case{4099, 0.9f, 1ull << 40, 1ull << 33},
                        Case{100003, 0.01f, 123456789, 4}}) {
    SCOPED_TRACE("count " + std::to_string(c.count) + " p " + std::to_string(c.p));
    const Tensor x = testing::random_normal({c.count}, 0, 1, c.seed + 1);
    const Tensor dy = testing::random_normal({c.count}, 0, 1, c.seed + 2);
    Tensor y_ref = Tensor::empty({c.count}), dx_ref = Tensor::empty({c.count});
    kernels::cpu::dropout_forward<float>(c.count, c.p, c.seed, c.offset, x.data<float>(), y_ref.data<float>());
    kernels::cpu::dropout_backward<float>(c.count, c.p, c.seed, c.offset, dy.data<float>(), dx_ref.data<float>());
    const Tensor x_gpu = testing::on_gpu(x), dy_gpu = testing::on_gpu(dy);
    Tensor y = testing::poisoned({c.count}), dx = testing::poisoned({c.count});
    kernels::cuda::dropout_forward<float>(c.count, c.p, c.seed, c.offset, x_gpu.data<float>(), y.data<float>());
    kernels::cuda::dropout_backward<float>(c.count, c.p, c.seed, c.offset, dy_gpu.data<float>(), dx.data<float>());
    EXPECT_TRUE(testing::expect_identical("dropout.forward", y, y_ref));
    EXPECT_TRUE(testing::expect_identical("dropout.backward", dx, dx_ref));
  }
#endif
}

TEST(CudaDropout, DropPathKernelMasksAreBitIdenticalToCpu) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  for (int64_t batch : {int64_t{1}, int64_t{3}, int64_t{129}}) {
    const int64_t per_sample = 17 * 17 * 37;
    SCOPED_TRACE(batch);
    const Tensor x = testing::random_normal({batch, per_sample}, 0, 1, 50 + batch);
    const Tensor dy = testing::random_normal({batch, per_sample}, 0, 1, 60 + batch);
    Tensor y_ref = Tensor::empty(x.shape()), dx_ref = Tensor::empty(x.shape());
    kernels::cpu::drop_path_forward<float>(batch, per_sample, 0.3f, 99, 8, x.data<float>(), y_ref.data<float>());
    kernels::cpu::drop_path_backward<float>(batch, per_sample, 0.3f, 99, 8, dy.data<float>(), dx_ref.data<float>());
    const Tensor x_gpu = testing::on_gpu(x), dy_gpu = testing::on_gpu(dy);
    Tensor y = testing::poisoned(x.shape()), dx = testing::poisoned(x.shape());
    kernels::cuda::drop_path_forward<float>(batch, per_sample, 0.3f, 99, 8, x_gpu.data<float>(), y.data<float>());
    kernels::cuda::drop_path_backward<float>(batch, per_sample, 0.3f, 99, 8, dy_gpu.data<float>(), dx.data<float>());
    EXPECT_TRUE(testing::expect_identical("drop_path.forward", y, y_ref));
    EXPECT_TRUE(testing::expect_identical("drop_path.backward", dx, dx_ref));
  }
#endif
}

TEST(CudaDropout, OpsWithTheSameGeneratorGiveTheCpuResultAndGradient) {
  PNEUMA_REQUIRE_GPU();
  for (bool path : {false, true}) {
    SCOPED_TRACE(path ? "drop_path" : "dropout");
    const Tensor x_cpu = testing::random_normal({3, 17, 17, 37}, 0, 1, 5).set_requires_grad(true);
    const Tensor x_gpu = testing::on_gpu(x_cpu.detach()).set_requires_grad(true);
    Generator cpu_generator(42), gpu_generator(42);
    cpu_generator.reserve(5);  // a non-zero offset
    gpu_generator.reserve(5);
    const Tensor y_cpu = path ? drop_path(x_cpu, 0.25, true, cpu_generator) : dropout(x_cpu, 0.25, true, cpu_generator);
    const Tensor y_gpu = path ? drop_path(x_gpu, 0.25, true, gpu_generator) : dropout(x_gpu, 0.25, true, gpu_generator);
    EXPECT_EQ(gpu_generator.offset(), cpu_generator.offset());
    EXPECT_TRUE(testing::expect_identical(path ? "drop_path.op" : "dropout.op", y_gpu, y_cpu));
    const Tensor dy = testing::random_normal(x_cpu.shape(), 0, 1, 6);
    y_cpu.backward(dy);
    y_gpu.backward(testing::on_gpu(dy));
    ASSERT_TRUE(x_gpu.grad().defined());
    EXPECT_TRUE(x_gpu.grad().device().is_cuda());
    EXPECT_TRUE(testing::expect_identical(path ? "drop_path.op_grad" : "dropout.op_grad", x_gpu.grad(), x_cpu.grad()));
  }
}

}  // namespace
}  // namespace pneuma
