// CUDA conv2d kernels (kernels/conv2d.h, namespace cuda) against the CPU reference run in double: forward, input,
// weight and bias gradients on the awkward shapes of conv_test_support.h (odd sizes, channels not a multiple of 4,
// N = 3, stride 2 with SAME padding, dilation, grouped, several tiles), outputs poisoned with NaN first. The
// implicit GEMM is checked tightly in exact fp32 and within the documented TF32 tolerance; the depthwise kernels
// are exact fp32 always. Also: weight gradients are bit-identical run to run, native agrees with cuDNN, bad shapes
// fail with a message, and the engine's conv2d op on CUDA (native and cuDNN) matches the CPU op through autograd.
// Every test that runs a kernel skips without a GPU.
#include <gtest/gtest.h>

#include "engine/ops.h"
#include "kernels/baseline/cudnn_conv2d.h"
#include "kernels/gemm.h"
#include "tests/cuda/conv_test_support.h"

namespace pneuma {
namespace {

using kernels::Conv2dShape;
using testing::ConvCase;
using testing::ConvTensors;

#if PNEUMA_WITH_CUDA
using kernels::cuda::MatmulPrecision;

// Sets the GEMM precision for one scope and restores the previous one.
class PrecisionScope {
 public:
  explicit PrecisionScope(MatmulPrecision precision) : saved_(kernels::cuda::matmul_precision()) {
    kernels::cuda::set_matmul_precision(precision);
  }
  ~PrecisionScope() { kernels::cuda::set_matmul_precision(saved_); }

 private:
  MatmulPrecision saved_;
};

enum class Backend { native, cudnn };

struct GpuTensors {
  Tensor input, weight, bias, grad_output;
};
GpuTensors on_gpu(const ConvTensors& t) {
  return {testing::on_gpu(t.input), testing::on_gpu(t.weight), testing::on_gpu(t.bias), testing::on_gpu(t.grad_output)};
}

// The four passes on the GPU into NaN-poisoned outputs.
struct GpuResults {
  Tensor output, grad_input, grad_weight, grad_bias;
};
GpuResults run_all(Backend backend, const Conv2dShape& s, const GpuTensors& g) {
  GpuResults r{testing::poisoned(g.grad_output.shape()), testing::poisoned(g.input.shape()),
               testing::poisoned(g.weight.shape()), testing::poisoned(g.bias.shape())};
  const float *x = g.input.data<float>(), *w = g.weight.data<float>(), *b = g.bias.data<float>(),
              *dy = g.grad_output.data<float>();
  if (backend == Backend::native) {
    kernels::cuda::conv2d_forward(s, x, w, b, r.output.data<float>());
    kernels::cuda::conv2d_backward_input(s, dy, w, r.grad_input.data<float>());
    kernels::cuda::conv2d_backward_weight(s, x, dy, r.grad_weight.data<float>());
    kernels::cuda::conv2d_backward_bias(s, dy, r.grad_bias.data<float>());
  } else {
    kernels::cudnn::conv2d_forward(s, x, w, b, r.output.data<float>());
    kernels::cudnn::conv2d_backward_input(s, dy, w, r.grad_input.data<float>());
    kernels::cudnn::conv2d_backward_weight(s, x, dy, r.grad_weight.data<float>());
    kernels::cudnn::conv2d_backward_bias(s, dy, r.grad_bias.data<float>());
  }
  return r;
}

// Native kernels vs the double CPU reference; `tf32` selects the TF32 tolerances (and an NMSE bound).
void check_against_cpu(const ConvCase& c, uint64_t seed, bool tf32) {
  const Conv2dShape& s = c.shape;
  SCOPED_TRACE(c.name + ": " + testing::describe(s));
  const ConvTensors t = testing::random_conv_tensors(s, seed);
  const GpuResults got = run_all(Backend::native, s, on_gpu(t));
  const auto tolerance = [&](int64_t terms) {
    return tf32 ? testing::tf32_tolerance(terms) : testing::exact_fp32_tolerance(terms);
  };
  const Tensor output = testing::reference_forward(s, t), grad_input = testing::reference_backward_input(s, t),
               grad_weight = testing::reference_backward_weight(s, t);
  EXPECT_TRUE(testing::expect_close("forward", got.output, output, tolerance(testing::forward_terms(s))));
  EXPECT_TRUE(
      testing::expect_close("backward_input", got.grad_input, grad_input, tolerance(testing::backward_input_terms(s))));
  EXPECT_TRUE(
      testing::expect_close("backward_weight", got.grad_weight, grad_weight, tolerance(testing::pixel_terms(s))));
  EXPECT_TRUE(testing::expect_close("backward_bias", got.grad_bias, testing::reference_backward_bias(s, t),
                                    testing::exact_fp32_tolerance(testing::pixel_terms(s))));
  if (tf32) {
    EXPECT_LT(testing::nmse(got.output, output), testing::kTf32MaxNmse);
    EXPECT_LT(testing::nmse(got.grad_input, grad_input), testing::kTf32MaxNmse);
    EXPECT_LT(testing::nmse(got.grad_weight, grad_weight), testing::kTf32MaxNmse);
  }
}
#endif  // PNEUMA_WITH_CUDA

TEST(CudaConv2dKernels, DepthwiseMatchesCpu) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  uint64_t seed = 1000;
  for (const ConvCase& c : testing::depthwise_conv_cases()) check_against_cpu(c, seed += 10, /*tf32=*/false);
#endif
}

TEST(CudaConv2dKernels, ImplicitGemmExactFp32MatchesCpu) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  PrecisionScope fp32(MatmulPrecision::fp32);
  uint64_t seed = 2000;
  for (const ConvCase& c : testing::gemm_conv_cases()) check_against_cpu(c, seed += 10, /*tf32=*/false);
#endif
}

TEST(CudaConv2dKernels, ImplicitGemmTf32WithinDocumentedTolerance) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  PrecisionScope tf32(MatmulPrecision::tf32);
  uint64_t seed = 3000;
  for (const ConvCase& c : testing::gemm_conv_cases()) check_against_cpu(c, seed += 10, /*tf32=*/true);
#endif
}

// Shapes large enough that the weight gradients split their pixel reductions over many blocks.
TEST(CudaConv2dKernels, WeightGradientsAreBitIdenticalRunToRun) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  const std::vector<ConvCase> cases = {
      {"depthwise 3x3", testing::conv_shape(8, 28, 30, 32, 32, 3, 3, 1, 1, testing::symmetric(1), 1, 32)},
      {"pointwise 32->48", testing::conv_shape(8, 28, 30, 32, 48, 1, 1, 1, 1, {}, 1, 1)},
      {"3x3 s2 16->32",
       testing::conv_shape(8, 29, 30, 16, 32, 3, 3, 2, 2, testing::same_padding(29, 30, 3, 2, 1), 1, 1)},
  };
  for (const MatmulPrecision precision : {MatmulPrecision::tf32, MatmulPrecision::fp32}) {
    PrecisionScope scope(precision);
    for (const ConvCase& c : cases) {
      SCOPED_TRACE(c.name);
      const GpuTensors g = on_gpu(testing::random_conv_tensors(c.shape, 77));
      Tensor first = testing::poisoned(g.weight.shape()), second = testing::poisoned(g.weight.shape());
      Tensor first_bias = testing::poisoned(g.bias.shape()), second_bias = testing::poisoned(g.bias.shape());
      kernels::cuda::conv2d_backward_weight(c.shape, g.input.data<float>(), g.grad_output.data<float>(),
                                            first.data<float>());
      kernels::cuda::conv2d_backward_bias(c.shape, g.grad_output.data<float>(), first_bias.data<float>());
      kernels::cuda::conv2d_backward_weight(c.shape, g.input.data<float>(), g.grad_output.data<float>(),
                                            second.data<float>());
      kernels::cuda::conv2d_backward_bias(c.shape, g.grad_output.data<float>(), second_bias.data<float>());
      EXPECT_TRUE(testing::expect_identical("grad_weight", second, first));
      EXPECT_TRUE(testing::expect_identical("grad_bias", second_bias, first_bias));
    }
  }
#endif
}

TEST(CudaConv2dKernels, NativeAgreesWithCudnn) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  if (!kernels::cudnn::available()) GTEST_SKIP() << "this build has no cuDNN";
  PrecisionScope fp32(MatmulPrecision::fp32);  // cuDNN with CUDNN_FMA_MATH: both sides exact fp32
  std::vector<ConvCase> cases = testing::gemm_conv_cases();
  for (const ConvCase& c : testing::depthwise_conv_cases()) cases.push_back(c);
  uint64_t seed = 4000;
  for (const ConvCase& c : cases) {
    const Conv2dShape& s = c.shape;
    SCOPED_TRACE(c.name + ": " + testing::describe(s));
    const GpuTensors g = on_gpu(testing::random_conv_tensors(s, seed += 10));
    const GpuResults ours = run_all(Backend::native, s, g), theirs = run_all(Backend::cudnn, s, g);
    EXPECT_TRUE(testing::expect_close("forward", ours.output, theirs.output,
                                      testing::exact_fp32_tolerance(testing::forward_terms(s))));
    EXPECT_TRUE(testing::expect_close("backward_input", ours.grad_input, theirs.grad_input,
                                      testing::exact_fp32_tolerance(testing::backward_input_terms(s))));
    EXPECT_TRUE(testing::expect_close("backward_weight", ours.grad_weight, theirs.grad_weight,
                                      testing::exact_fp32_tolerance(testing::pixel_terms(s))));
    EXPECT_TRUE(testing::expect_close("backward_bias", ours.grad_bias, theirs.grad_bias,
                                      testing::exact_fp32_tolerance(testing::pixel_terms(s))));
  }
#endif
}

// Shape validation happens before any CUDA call, so this runs in every CUDA build, GPU or not.
TEST(CudaConv2dKernels, BadShapesFailWithAMessage) {
#if PNEUMA_WITH_CUDA
  Conv2dShape s = testing::conv_shape(1, 7, 7, 4, 4, 3, 3, 1, 1, testing::symmetric(1), 1, 1);
  s.out_height = 6;  // inconsistent with the input, kernel and padding
  try {
    kernels::cuda::conv2d_forward(s, nullptr, nullptr, nullptr, nullptr);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("does not match"), std::string::npos) << error.what();
  }
  Conv2dShape grouped = testing::conv_shape(1, 7, 7, 6, 4, 3, 3, 1, 1, testing::symmetric(1), 1, 4);
  EXPECT_THROW(kernels::cuda::conv2d_backward_weight(grouped, nullptr, nullptr, nullptr), Error);
#else
  GTEST_SKIP() << "this build has no CUDA backend (configured with -DPNEUMA_CUDA=OFF)";
#endif
}

// The engine op end to end: forward and all gradients through autograd on CUDA equal the CPU op, with either
// implementation selected.
TEST(CudaConv2dOp, ForwardAndGradientsMatchCpuForBothImplementations) {
  PNEUMA_REQUIRE_GPU();
  struct OpCase {
    const char* name;
    Shape input, weight;
    Conv2dOptions options;
  };
  Conv2dOptions same_stride2;
  same_stride2.stride_height = same_stride2.stride_width = 2;
  same_stride2.padding = Padding2d::same();
  Conv2dOptions depthwise;
  depthwise.padding = Padding2d::symmetric(1);
  depthwise.groups = 24;
  const std::vector<OpCase> cases = {{"stem SAME stride 2", {3, 11, 10, 3}, {16, 3, 3, 3}, same_stride2},
                                     {"depthwise", {3, 9, 7, 24}, {24, 3, 3, 1}, depthwise},
                                     {"pointwise", {3, 9, 7, 24}, {40, 1, 1, 24}, Conv2dOptions{}}};
  const ConvImplementation saved = conv_implementation();
  std::vector<ConvImplementation> implementations = {ConvImplementation::native};
#if PNEUMA_WITH_CUDA
  if (kernels::cudnn::available()) implementations.push_back(ConvImplementation::cudnn);
  PrecisionScope fp32(MatmulPrecision::fp32);
#endif
  uint64_t seed = 5000;
  for (const ConvImplementation implementation : implementations) {
    set_conv_implementation(implementation);
    for (const OpCase& c : cases) {
      SCOPED_TRACE(std::string(c.name) + " with " + conv_implementation_name(implementation));
      const Tensor x = testing::random_uniform(c.input, -1, 1, seed += 10);
      const Tensor w = testing::random_uniform(c.weight, -1, 1, seed + 1);
      const Tensor b = testing::random_uniform({c.weight[0]}, -1, 1, seed + 2);
      auto run = [&](Device device, Tensor& dx, Tensor& dw, Tensor& db) {
        Tensor xd = x.clone().to(device), wd = w.clone().to(device), bd = b.clone().to(device);
        xd.set_requires_grad(true), wd.set_requires_grad(true), bd.set_requires_grad(true);
        Tensor y = conv2d(xd, wd, bd, c.options);
        y.backward(testing::random_uniform(y.shape(), -1, 1, seed + 3).to(device));
        dx = xd.grad(), dw = wd.grad(), db = bd.grad();
        return y;
      };
      Tensor dx_cpu, dw_cpu, db_cpu, dx_gpu, dw_gpu, db_gpu;
      const Tensor y_cpu = run(Device::cpu(), dx_cpu, dw_cpu, db_cpu);
      const Tensor y_gpu = run(Device::cuda(), dx_gpu, dw_gpu, db_gpu);
      ASSERT_TRUE(y_gpu.device().is_cuda() && dx_gpu.device().is_cuda() && dw_gpu.device().is_cuda());
      const testing::Tolerance tolerance{.atol = 1e-4, .rtol = 1e-4};
      EXPECT_TRUE(testing::expect_close("output", y_gpu, y_cpu, tolerance));
      EXPECT_TRUE(testing::expect_close("grad_input", dx_gpu, dx_cpu, tolerance));
      EXPECT_TRUE(testing::expect_close("grad_weight", dw_gpu, dw_cpu, {.atol = 1e-3, .rtol = 1e-4}));
      EXPECT_TRUE(testing::expect_close("grad_bias", db_gpu, db_cpu, {.atol = 1e-3, .rtol = 1e-4}));
    }
  }
  set_conv_implementation(saved);
}

TEST(CudaConv2dOp, ImplementationNamesRoundTrip) {
  EXPECT_EQ(conv_implementation_from_name("native"), ConvImplementation::native);
  EXPECT_EQ(conv_implementation_from_name("cudnn"), ConvImplementation::cudnn);
  EXPECT_STREQ(conv_implementation_name(ConvImplementation::cudnn), "cudnn");
  EXPECT_THROW(conv_implementation_from_name("cublas"), Error);
}

}  // namespace
}  // namespace pneuma
