// CUDA linear kernels (kernels/linear.h, namespace cuda — the convolution GEMM core as a 1×1 convolution) against
// the CPU reference in double: forward, input, weight and bias gradients, odd sizes, an empty batch, a
// classifier-like head and a long batch (split weight-gradient reduction), outputs poisoned with NaN. Exact fp32
// tightly, TF32 within the documented tolerance (tests/cuda/conv_test_support.h); native agrees with cuBLAS; the
// engine's linear op on CUDA (native and cuBLAS) matches the CPU op through autograd. Skips without a GPU.
#include <gtest/gtest.h>

#include "engine/ops.h"
#include "kernels/baseline/cublas_linear.h"
#include "kernels/gemm.h"
#include "kernels/linear.h"
#include "tests/cuda/conv_test_support.h"

namespace pneuma {
namespace {

using kernels::LinearShape;

LinearShape linear_shape(int64_t rows, int64_t in_features, int64_t out_features) {
  LinearShape s;
  s.rows = rows, s.in_features = in_features, s.out_features = out_features;
  return s;
}

const std::vector<LinearShape> linear_cases = {
    linear_shape(1, 3, 5),     linear_shape(3, 17, 7),    linear_shape(37, 5, 1),        linear_shape(300, 65, 10),
    linear_shape(4, 1280, 13), linear_shape(2000, 8, 12), linear_shape(128, 1280, 1000), linear_shape(0, 4, 3)};

std::string describe(const LinearShape& s) {
  return "rows=" + std::to_string(s.rows) + " in=" + std::to_string(s.in_features) +
         " out=" + std::to_string(s.out_features);
}

#if PNEUMA_WITH_CUDA
using kernels::cuda::MatmulPrecision;

struct LinearTensors {
  Tensor input, weight, bias, grad_output;  // CPU f32, uniform in [-1, 1]
};
LinearTensors random_linear_tensors(const LinearShape& s, uint64_t seed) {
  return {testing::random_uniform({s.rows, s.in_features}, -1, 1, seed),
          testing::random_uniform({s.out_features, s.in_features}, -1, 1, seed + 1),
          testing::random_uniform({s.out_features}, -1, 1, seed + 2),
          testing::random_uniform({s.rows, s.out_features}, -1, 1, seed + 3)};
}

struct LinearResults {
  Tensor output, grad_input, grad_weight, grad_bias;
};

// The CPU kernels in double.
LinearResults reference(const LinearShape& s, const LinearTensors& t) {
  const Tensor x = t.input.to(DType::f64), w = t.weight.to(DType::f64), b = t.bias.to(DType::f64),
               dy = t.grad_output.to(DType::f64);
  LinearResults r{Tensor::empty(dy.shape(), DType::f64), Tensor::empty(x.shape(), DType::f64),
                  Tensor::empty(w.shape(), DType::f64), Tensor::empty(b.shape(), DType::f64)};
  kernels::cpu::linear_forward<double>(s, x.data<double>(), w.data<double>(), b.data<double>(),
                                       r.output.data<double>());
  kernels::cpu::linear_backward_input<double>(s, dy.data<double>(), w.data<double>(), r.grad_input.data<double>());
  kernels::cpu::linear_backward_weight<double>(s, x.data<double>(), dy.data<double>(), r.grad_weight.data<double>());
  kernels::cpu::linear_backward_bias<double>(s, dy.data<double>(), r.grad_bias.data<double>());
  return r;
}

LinearResults run_gpu(bool cublas, const LinearShape& s, const LinearTensors& t) {
  const Tensor x = testing::on_gpu(t.input), w = testing::on_gpu(t.weight), b = testing::on_gpu(t.bias),
               dy = testing::on_gpu(t.grad_output);
  LinearResults r{testing::poisoned(dy.shape()), testing::poisoned(x.shape()), testing::poisoned(w.shape()),
                  testing::poisoned(b.shape())};
  if (cublas) {
    kernels::cublas::linear_forward(s, x.data<float>(), w.data<float>(), b.data<float>(), r.output.data<float>());
    kernels::cublas::linear_backward_input(s, dy.data<float>(), w.data<float>(), r.grad_input.data<float>());
    kernels::cublas::linear_backward_weight(s, x.data<float>(), dy.data<float>(), r.grad_weight.data<float>());
    kernels::cublas::linear_backward_bias(s, dy.data<float>(), r.grad_bias.data<float>());
  } else {
    kernels::cuda::linear_forward(s, x.data<float>(), w.data<float>(), b.data<float>(), r.output.data<float>());
    kernels::cuda::linear_backward_input(s, dy.data<float>(), w.data<float>(), r.grad_input.data<float>());
    kernels::cuda::linear_backward_weight(s, x.data<float>(), dy.data<float>(), r.grad_weight.data<float>());
    kernels::cuda::linear_backward_bias(s, dy.data<float>(), r.grad_bias.data<float>());
  }
  return r;
}

void check_all(const char* what, const LinearShape& s, const LinearResults& got, const LinearResults& want, bool tf32) {
  const auto tolerance = [&](int64_t terms) {
    return tf32 ? testing::tf32_tolerance(std::max<int64_t>(1, terms))
                : testing::exact_fp32_tolerance(std::max<int64_t>(1, terms));
  };
  SCOPED_TRACE(std::string(what) + ": " + describe(s));
  EXPECT_TRUE(testing::expect_close("forward", got.output, want.output, tolerance(s.in_features)));
  EXPECT_TRUE(testing::expect_close("backward_input", got.grad_input, want.grad_input, tolerance(s.out_features)));
  EXPECT_TRUE(testing::expect_close("backward_weight", got.grad_weight, want.grad_weight, tolerance(s.rows)));
  EXPECT_TRUE(testing::expect_close("backward_bias", got.grad_bias, want.grad_bias,
                                    testing::exact_fp32_tolerance(std::max<int64_t>(1, s.rows))));
}

void check_precision(MatmulPrecision precision) {
  const MatmulPrecision saved = kernels::cuda::matmul_precision();
  kernels::cuda::set_matmul_precision(precision);
  uint64_t seed = precision == MatmulPrecision::fp32 ? 6000 : 7000;
  for (const LinearShape& s : linear_cases) {
    const LinearTensors t = random_linear_tensors(s, seed += 10);
    check_all("native vs CPU", s, run_gpu(false, s, t), reference(s, t), precision == MatmulPrecision::tf32);
  }
  kernels::cuda::set_matmul_precision(saved);
}
#endif  // PNEUMA_WITH_CUDA

TEST(CudaLinearKernels, ExactFp32MatchesCpu) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  check_precision(MatmulPrecision::fp32);
#endif
}

TEST(CudaLinearKernels, Tf32WithinDocumentedTolerance) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  check_precision(MatmulPrecision::tf32);
#endif
}

TEST(CudaLinearKernels, NativeAgreesWithCublas) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  const MatmulPrecision saved = kernels::cuda::matmul_precision();
  kernels::cuda::set_matmul_precision(MatmulPrecision::fp32);
  uint64_t seed = 8000;
  for (const LinearShape& s : linear_cases) {
    const LinearTensors t = random_linear_tensors(s, seed += 10);
    check_all("native vs cuBLAS", s, run_gpu(false, s, t), run_gpu(true, s, t), false);
  }
  kernels::cuda::set_matmul_precision(saved);
#endif
}

TEST(CudaLinearOp, ForwardAndGradientsMatchCpuForBothImplementations) {
  PNEUMA_REQUIRE_GPU();
  const ConvImplementation saved = conv_implementation();
#if PNEUMA_WITH_CUDA
  const MatmulPrecision saved_precision = kernels::cuda::matmul_precision();
  kernels::cuda::set_matmul_precision(MatmulPrecision::fp32);
#endif
  for (const ConvImplementation implementation : {ConvImplementation::native, ConvImplementation::cudnn}) {
    set_conv_implementation(implementation);
    SCOPED_TRACE(conv_implementation_name(implementation));
    const Tensor x = testing::random_uniform({2, 5, 36}, -1, 1, 9000);  // leading axes flatten into 10 rows
    const Tensor w = testing::random_uniform({12, 36}, -1, 1, 9001);
    const Tensor b = testing::random_uniform({12}, -1, 1, 9002);
    const Tensor g = testing::random_uniform({2, 5, 12}, -1, 1, 9003);
    auto run = [&](Device device, Tensor& dx, Tensor& dw, Tensor& db) {
      Tensor xd = x.clone().to(device), wd = w.clone().to(device), bd = b.clone().to(device);
      xd.set_requires_grad(true), wd.set_requires_grad(true), bd.set_requires_grad(true);
      Tensor y = linear(xd, wd, bd);
      y.backward(g.to(device));
      dx = xd.grad(), dw = wd.grad(), db = bd.grad();
      return y;
    };
    Tensor dx_cpu, dw_cpu, db_cpu, dx_gpu, dw_gpu, db_gpu;
    const Tensor y_cpu = run(Device::cpu(), dx_cpu, dw_cpu, db_cpu);
    const Tensor y_gpu = run(Device::cuda(), dx_gpu, dw_gpu, db_gpu);
    ASSERT_TRUE(y_gpu.device().is_cuda() && dw_gpu.device().is_cuda());
    const testing::Tolerance tolerance{.atol = 1e-4, .rtol = 1e-4};
    EXPECT_TRUE(testing::expect_close("output", y_gpu, y_cpu, tolerance));
    EXPECT_TRUE(testing::expect_close("grad_input", dx_gpu, dx_cpu, tolerance));
    EXPECT_TRUE(testing::expect_close("grad_weight", dw_gpu, dw_cpu, tolerance));
    EXPECT_TRUE(testing::expect_close("grad_bias", db_gpu, db_cpu, tolerance));
  }
  set_conv_implementation(saved);
#if PNEUMA_WITH_CUDA
  kernels::cuda::set_matmul_precision(saved_precision);
#endif
}

}  // namespace
}  // namespace pneuma
