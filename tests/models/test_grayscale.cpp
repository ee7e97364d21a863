// adapt_first_conv_to_grayscale (models/grayscale.h): the adapted model on a gray image equals the original on the
// same image repeated over three channels, for torchvision and timm (flat) layouts, and keeps the frozen state.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "models/freezing.h"
#include "models/grayscale.h"
#include "models/registry.h"

namespace pneuma::models {
namespace {

double max_abs_difference(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector<float>(), y = b.to_vector<float>();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(x[i]) - y[i]));
  return worst;
}

void check_gray_equals_repeated_rgb(const char* architecture, const char* layout) {
  ModelConfig config;
  config.architecture = architecture;
  config.layout = layout;
  config.classes = 4;
  Generator init(3), data(4);
  auto model = create_model(config, init);
  model->eval();
  NoGradGuard no_grad;
  const Tensor gray = Tensor::normal({2, 40, 40, 1}, 0, 1, data);
  const Tensor rgb_logits = (*model)(concat({gray, gray, gray}, 3));
  const Tensor rgb_weight = model->find_tensor(model->stem_conv_name() + ".weight").clone();

  adapt_first_conv_to_grayscale(*model);
  EXPECT_EQ(model->in_channels(), 1);
  const Tensor weight = model->find_tensor(model->stem_conv_name() + ".weight");
  ASSERT_EQ(weight.shape(), (Shape{rgb_weight.dim(0), 3, 3, 1}));
  const auto summed = weight.to_vector<float>(), original = rgb_weight.to_vector<float>();
  for (size_t i = 0; i < summed.size(); ++i)
    ASSERT_NEAR(summed[i], original[3 * i] + original[3 * i + 1] + original[3 * i + 2], 1e-6);
  const Tensor gray_logits = (*model)(gray);
  const double scale = max_abs_difference(rgb_logits, Tensor::zeros(rgb_logits.shape()));
  EXPECT_LE(max_abs_difference(gray_logits, rgb_logits), 1e-4 * scale + 1e-5) << architecture << " " << layout;
  EXPECT_THROW((*model)(concat({gray, gray, gray}, 3)), Error);
}

TEST(Grayscale, AdaptedModelOnGrayEqualsOriginalOnRepeatedRgb) {
  check_gray_equals_repeated_rgb("mobilenet_v2", "torchvision");
  check_gray_equals_repeated_rgb("efficientnet_v2_b0", "timm");
}

TEST(Grayscale, KeepsFreezingAndIsIdempotent) {
  ModelConfig config;
  config.architecture = "efficientnet_v2_b0";
  config.layout = "timm";
  config.classes = 2;
  auto model = create_model(config);
  freeze_backbone(*model);
  adapt_first_conv_to_grayscale(*model);
  EXPECT_FALSE(model->find_tensor("conv_stem.weight").requires_grad());
  // The flat backbone sees the new convolution too.
  EXPECT_EQ(model->backbone().child("conv_stem"), model->child("conv_stem"));
  const int64_t parameters = model->parameter_count();
  adapt_first_conv_to_grayscale(*model);
  EXPECT_EQ(model->parameter_count(), parameters);

  config.in_channels = 1;
  EXPECT_EQ(create_model_uninitialized(config)->parameter_count(), parameters);
}

}  // namespace
}  // namespace pneuma::models
