#include <gtest/gtest.h>

#include "engine/rng.h"
#include "engine/tensor.h"

namespace pneuma {
namespace {

TEST(Tensor, CreationShapesAndStrides) {
  Tensor t = Tensor::zeros({2, 3, 4});
  EXPECT_EQ(t.rank(), 3);
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.strides(), (std::vector<int64_t>{12, 4, 1}));
  EXPECT_EQ(t.dim(-1), 4);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.dtype(), DType::f32);
  for (float v : t.to_vector<float>()) EXPECT_EQ(v, 0.0f);
  EXPECT_THROW(t.dim(3), Error);
  EXPECT_THROW(Tensor::empty({2, -1}), Error);
}

TEST(Tensor, ViewsShareStorageAndCopiesDoNot) {
  Tensor t = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor v = t.view({3, 2});
  EXPECT_TRUE(v.same_storage(t));
  v.data<float>()[0] = 42;
  EXPECT_EQ(t.to_vector<float>()[0], 42);
  Tensor c = t.clone();
  EXPECT_FALSE(c.same_storage(t));
  EXPECT_EQ(t.view({-1}).shape(), Shape({6}));
  EXPECT_THROW(t.view({4, -1}), Error);
}

TEST(Tensor, PermuteNarrowAndContiguous) {
  Tensor t = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor p = t.permute({1, 0});
  EXPECT_FALSE(p.is_contiguous());
  EXPECT_EQ(p.contiguous().to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  Tensor n = t.narrow(1, 1, 2);
  EXPECT_EQ(n.contiguous().to_vector<float>(), (std::vector<float>{1, 2, 4, 5}));
  Tensor row = t.narrow(0, 1, 1);
  EXPECT_TRUE(row.is_contiguous());
  EXPECT_EQ(row.to_vector<float>(), (std::vector<float>{3, 4, 5}));
  EXPECT_THROW(p.view({6}), Error);
}

TEST(Tensor, DtypeConversionsRoundTrip) {
  Tensor t = Tensor::from_vector<float>({1.5f, -2.25f, 3.0f}, {3});
  EXPECT_EQ(t.to(DType::f64).to_vector<double>(), (std::vector<double>{1.5, -2.25, 3.0}));
  EXPECT_EQ(t.to(DType::bf16).to(DType::f32).to_vector<float>(), (std::vector<float>{1.5f, -2.25f, 3.0f}));
  EXPECT_EQ(t.to(DType::f16).to(DType::f32).to_vector<float>(), (std::vector<float>{1.5f, -2.25f, 3.0f}));
  EXPECT_EQ(t.to(DType::i32).to_vector<int32_t>(), (std::vector<int32_t>{1, -2, 3}));
  EXPECT_THROW(t.data<double>(), Error);
}

TEST(Tensor, RandomTensorsAreReproducibleAndWellDistributed) {
  Generator a(7), b(7);
  Tensor x = Tensor::normal({10000}, 0, 1, a);
  Tensor y = Tensor::normal({10000}, 0, 1, b);
  EXPECT_EQ(x.to_vector<float>(), y.to_vector<float>());
  double mean = 0, square = 0;
  for (float v : x.to_vector<float>()) {
    mean += v;
    square += v * v;
  }
  mean /= 10000;
  EXPECT_NEAR(mean, 0.0, 0.05);
  EXPECT_NEAR(square / 10000 - mean * mean, 1.0, 0.05);
  Tensor u = Tensor::uniform({10000}, -2, 3, a);
  for (float v : u.to_vector<float>()) {
    EXPECT_GE(v, -2.0f);
    EXPECT_LT(v, 3.0f);
  }
  // The next draw differs from the first: the generator advanced.
  Generator fresh(7);
  EXPECT_NE(Tensor::normal({4}, 0, 1, a).to_vector<float>(), Tensor::normal({4}, 0, 1, fresh).to_vector<float>());
}

TEST(Tensor, UndefinedTensorUseIsAnError) {
  Tensor t;
  EXPECT_FALSE(t.defined());
  EXPECT_THROW(t.shape(), Error);
}

TEST(Tensor, CudaTensorWithoutDeviceIsAClearError) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  try {
    Tensor::empty({2}, DType::f32, Device::cuda(0));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cuda"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pneuma
