// Gradient checks for dropout and drop_path. The mask comes from a Generator, so the checked function gets a fresh
// Generator with the same seed on every call (with_fresh_generator): every evaluation then sees the same mask.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/ops.h"
#include "tests/support/gradcheck.h"

namespace pneuma {
namespace {

using testing::gradcheck;
using testing::random_leaf;
using testing::with_fresh_generator;

TEST(GradcheckDropout, MatchesFiniteDifferencesWithAFixedMask) {
  Generator generator(91);
  for (double p : {0.2, 0.5, 0.9}) {
    EXPECT_TRUE(gradcheck(with_fresh_generator(1234,
                                               [p](const std::vector<Tensor>& x, Generator& mask_generator) {
                                                 return dropout(x[0], p, true, mask_generator);
                                               }),
                          {random_leaf({3, 5, 7}, generator)}))
        << "p = " << p;
  }
}

TEST(GradcheckDropout, GradientIsTheForwardMaskRegenerated) {
  Generator data_generator(92);
  Tensor input = testing::random_constant({4, 50}, data_generator, 1, 2);  // never zero
  input.set_requires_grad(true);
  Generator generator(77);
  const uint64_t offset_before = generator.offset();
  const double p = 0.3;
  const Tensor output = dropout(input, p, true, generator);
  EXPECT_GE(generator.offset(), offset_before + 200) << "dropout must reserve one counter per element";
  output.backward(Tensor::ones({4, 50}, DType::f64));
  const std::vector<double> x = input.to_vector<double>(), y = output.to_vector<double>();
  const std::vector<double> g = input.grad().to_vector<double>();
  int dropped = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    // y = x · mask / (1 − p) and dy/dx = mask / (1 − p): the same mask in both passes.
    EXPECT_NEAR(g[i], y[i] / x[i], 1e-12) << i;
    EXPECT_TRUE(y[i] == 0 || std::abs(y[i] - x[i] / (1 - p)) < 1e-12) << i;
    dropped += y[i] == 0;
  }
  EXPECT_GT(dropped, 30);  // ~60 of 200 expected
  EXPECT_LT(dropped, 90);
}

TEST(GradcheckDropout, IdentityWhenNotTrainingOrZeroProbability) {
  Generator generator(93);
  const Tensor input = random_leaf({3, 5}, generator);
  const uint64_t offset = generator.offset();
  EXPECT_TRUE(dropout(input, 0.5, false, generator).same_storage(input));
  EXPECT_TRUE(dropout(input, 0.0, true, generator).same_storage(input));
  EXPECT_TRUE(drop_path(input, 0.5, false, generator).same_storage(input));
  EXPECT_EQ(generator.offset(), offset) << "no random numbers are drawn when nothing is dropped";
}

TEST(GradcheckDropout, ProbabilityOneDropsEverything) {
  Generator generator(94);
  const Tensor input = random_leaf({3, 5}, generator);
  const Tensor output = dropout(input, 1.0, true, generator);
  EXPECT_EQ(output.to_vector<double>(), std::vector<double>(15, 0.0));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return dropout(x[0], 1.0, true); }, {input}));
  EXPECT_THROW(dropout(input, 1.5, true, generator), Error);
  EXPECT_THROW(dropout(input, -0.1, true, generator), Error);
}

TEST(GradcheckDropPath, MatchesFiniteDifferencesWithAFixedMask) {
  Generator generator(95);
  for (const Shape& shape : {Shape{3, 5, 7, 3}, Shape{7, 5}}) {
    EXPECT_TRUE(gradcheck(with_fresh_generator(99,
                                               [](const std::vector<Tensor>& x, Generator& mask_generator) {
                                                 return drop_path(x[0], 0.4, true, mask_generator);
                                               }),
                          {random_leaf(shape, generator)}))
        << shape_string(shape);
  }
}

TEST(GradcheckDropPath, DropsWholeSamples) {
  Generator data_generator(96);
  const int64_t batch = 64, per_sample = 10;
  const Tensor input = testing::random_constant({batch, 2, 5}, data_generator, 1, 2);
  Generator generator(5);
  const double p = 0.5;
  const Tensor output = drop_path(input, p, true, generator);
  const std::vector<double> x = input.to_vector<double>(), y = output.to_vector<double>();
  int dropped = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const bool kept = y[b * per_sample] != 0;
    dropped += !kept;
    for (int64_t i = b * per_sample; i < (b + 1) * per_sample; ++i)
      EXPECT_NEAR(y[i], kept ? x[i] / (1 - p) : 0.0, 1e-12) << "sample " << b << " element " << i;
  }
  EXPECT_GT(dropped, 16);
  EXPECT_LT(dropped, 48);
}

}  // namespace
}  // namespace pneuma
