// The engine's unrecorded in-place helpers (add_in_place, scale_in_place, sum_of_squares, all_finite), and the shared
// refusal of CUDA tensors while this build has no CUDA kernels. No gradients here: these ops are never recorded.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "engine/ops.h"
#include "tests/support/gradcheck.h"

namespace pneuma {
namespace {

TEST(GradcheckInPlace, AddInPlaceAccumulatesAndRecordsNothing) {
  Tensor destination = Tensor::from_vector<double>({1, 2, 3}, {3});
  Tensor source = Tensor::from_vector<double>({10, 20, 30}, {3});
  source.set_requires_grad(true);
  add_in_place(destination, source);
  EXPECT_EQ(destination.to_vector<double>(), (std::vector<double>{11, 22, 33}));
  EXPECT_EQ(destination.grad_fn(), nullptr);
  // A strided source is packed first.
  Tensor matrix = Tensor::zeros({2, 2}, DType::f64);
  add_in_place(matrix, Tensor::from_vector<double>({1, 2, 3, 4}, {2, 2}).permute({1, 0}));
  EXPECT_EQ(matrix.to_vector<double>(), (std::vector<double>{1, 3, 2, 4}));
  EXPECT_THROW(add_in_place(destination, Tensor::zeros({4}, DType::f64)), Error);
  EXPECT_THROW(add_in_place(destination, Tensor::zeros({3}, DType::f32)), Error);
}

TEST(GradcheckInPlace, ScaleInPlace) {
  Tensor t = Tensor::from_vector<float>({1, -2, 4}, {3});
  scale_in_place(t, -0.5);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{-0.5f, 1.0f, -2.0f}));
}

TEST(GradcheckInPlace, SumOfSquares) {
  EXPECT_EQ(sum_of_squares(Tensor::from_vector<double>({1, -2, 3}, {3})), 14.0);
  EXPECT_EQ(sum_of_squares(Tensor::from_vector<float>({0.5f, 0.5f}, {2})), 0.5);
  EXPECT_EQ(sum_of_squares(Tensor::from_vector<double>({1, 2, 3, 4}, {2, 2}).permute({1, 0})), 30.0);
}

TEST(GradcheckInPlace, AllFinite) {
  EXPECT_TRUE(all_finite(Tensor::from_vector<float>({1, 2, 3}, {3})));
  EXPECT_FALSE(all_finite(Tensor::from_vector<float>({1, std::numeric_limits<float>::infinity()}, {2})));
  EXPECT_FALSE(all_finite(Tensor::from_vector<double>({std::nan(""), 0}, {2})));
  EXPECT_TRUE(all_finite(Tensor::from_vector<int32_t>({1, 2}, {2})));
  EXPECT_FALSE(all_finite(Tensor::from_vector<float>({1, -std::numeric_limits<float>::infinity()}, {2}).to(DType::bf16)));
  EXPECT_TRUE(all_finite(Tensor::from_vector<float>({1, 2}, {2}).to(DType::bf16)));
}

// A tensor that claims to live on cuda:0 (host memory borrowed under a CUDA device tag): enough to reach the check.
Tensor fake_cuda_tensor(const Shape& shape) {
  auto memory = std::shared_ptr<double[]>(new double[shape_numel(shape)]());
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = DType::f64;
  impl->storage = std::make_shared<Storage>(memory.get(), shape_numel(shape) * sizeof(double), Device::cuda(0),
                                            std::shared_ptr<void>(memory, memory.get()));
  return Tensor(impl);
}

TEST(GradcheckInPlace, CudaTensorsFailWithOneClearLine) {
  const Tensor x = fake_cuda_tensor({2, 3});
  auto expect_no_cuda_kernel = [](const char* op, auto&& call) {
    try {
      call();
      ADD_FAILURE() << op << " accepted a CUDA tensor";
    } catch (const Error& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find(std::string(op) + ": no CUDA kernel in this build yet"), std::string::npos) << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    }
  };
  expect_no_cuda_kernel("relu", [&] { relu(x); });
  expect_no_cuda_kernel("add", [&] { add(x, x); });
  expect_no_cuda_kernel("linear", [&] { linear(x, fake_cuda_tensor({4, 3}), Tensor()); });
  // A contiguous reshape is a view and runs no kernel; packing a strided one does.
  EXPECT_EQ(reshape(x, {6}).shape(), Shape{6});
  expect_no_cuda_kernel("reshape", [&] { reshape(x.permute({1, 0}), {6}); });
  expect_no_cuda_kernel("sum_of_squares", [&] { sum_of_squares(x); });
  expect_no_cuda_kernel("all_finite", [&] { all_finite(x); });
  Tensor destination = fake_cuda_tensor({2, 3});
  expect_no_cuda_kernel("add_in_place", [&] { add_in_place(destination, x); });
}

}  // namespace
}  // namespace pneuma
