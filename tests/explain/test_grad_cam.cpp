// engine/explain/grad_cam: the formula on a hand-checkable model, localisation on a model whose class evidence sits
// in one region, and parity with PyTorch autograd Grad-CAM (tests/fixtures/metrics/grad_cam_reference.json, written
// by tools/make_grad_cam_reference.py) in f64 and f32.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/autograd.h"
#include "engine/explain/grad_cam.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "kernels/error.h"

namespace pneuma::explain {
namespace {

using nlohmann::json;

Conv2dOptions stride_padding(int64_t stride, int64_t padding) {
  Conv2dOptions options;
  options.stride_height = options.stride_width = stride;
  options.padding = Padding2d::symmetric(padding);
  return options;
}

TEST(GradCam, MatchesTheFormulaForGlobalPoolingAndALinearHead) {
  // features: 1x1 conv of a 4x3 RGB image to 3 channels with positive weights (A > 0); classify: GAP + linear.
  // For GAP + linear, dlogit_c/dA[y, x, k] = W[c, k] / (h·w), so w_k = W[c, k] / (h·w) and
  // cam[y, x] = ReLU(Σ_k W[c, k]·A[y, x, k]) / (h·w).
  Generator generator(3);
  const Tensor image = Tensor::uniform({1, 4, 3, 3}, 0.0, 1.0, generator);
  const Tensor conv_weight = Tensor::uniform({3, 1, 1, 3}, 0.0, 1.0, generator);
  // Class 2 has only negative evidence: its CAM is all zero after the ReLU, and so is the heat map.
  const Tensor head_weight =
      Tensor::from_vector<float>({0.5f, -1.0f, 2.0f, -0.3f, 0.8f, 0.1f, -1.0f, -0.5f, -0.2f}, {3, 3});
  auto features = [&](const Tensor& x) { return conv2d(x, conv_weight, Tensor(), Conv2dOptions{}); };
  auto classify = [&](const Tensor& a) { return linear(global_avg_pool(a), head_weight, Tensor()); };

  Tensor activation;
  {
    NoGradGuard no_grad;
    activation = features(image);
  }
  const std::vector<float> a = activation.to_vector<float>();
  const std::vector<float> w = head_weight.to_vector<float>();
  for (int64_t c = 0; c < 3; ++c) {
    const GradCamResult result = grad_cam(features, classify, image, c);
    EXPECT_EQ(result.class_index, c);
    const std::vector<float> weights = result.channel_weights.to_vector<float>();
    const std::vector<float> cam = result.low_resolution.to_vector<float>();
    ASSERT_EQ(result.low_resolution.shape(), (Shape{4, 3}));
    ASSERT_EQ(result.heat_map.shape(), (Shape{4, 3}));
    for (int64_t k = 0; k < 3; ++k) EXPECT_NEAR(weights[k], w[c * 3 + k] / 12.0, 1e-7);
    double maximum = 0.0;
    std::vector<double> expected(12);
    double logit = 0.0;
    for (int64_t p = 0; p < 12; ++p) {
      double sum = 0.0;
      for (int64_t k = 0; k < 3; ++k) sum += w[c * 3 + k] * a[p * 3 + k];
      logit += sum / 12.0;
      expected[p] = std::max(0.0, sum) / 12.0;
      maximum = std::max(maximum, expected[p]);
    }
    EXPECT_NEAR(result.class_logit, logit, 1e-6);
    EXPECT_EQ(maximum > 0.0, c < 2);
    const std::vector<float> heat = result.heat_map.to_vector<float>();
    for (int64_t p = 0; p < 12; ++p) {
      EXPECT_NEAR(cam[p], expected[p], 1e-7) << "class " << c << " pixel " << p;
      // Same size: upsampling is the identity.
      EXPECT_NEAR(heat[p], maximum > 0.0 ? expected[p] / maximum : 0.0, 1e-6) << "class " << c << " pixel " << p;
    }
  }
  // class_index < 0 explains the arg-max class.
  Tensor logits;
  {
    NoGradGuard no_grad;
    logits = classify(features(image));
  }
  const std::vector<float> l = logits.to_vector<float>();
  EXPECT_EQ(grad_cam(features, classify, image, -1).class_index, std::max_element(l.begin(), l.end()) - l.begin());
}

TEST(GradCam, HighlightsTheRegionThatCarriesTheClassEvidence) {
  // A 16x16 image: background 0.3, a bright square in the top-left 4x4 block, a dark square in the bottom-right.
  // features = 4x4 average pooling (as a stride-4 conv) then two 1x1 detectors: "bright" ReLU(p − 0.5) and
  // "dark" ReLU(0.2 − p). Class 0 = bright evidence minus dark, class 1 the reverse.
  std::vector<float> pixels(16 * 16, 0.3f);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) {
      pixels[y * 16 + x] = 1.0f;
      pixels[(12 + y) * 16 + 12 + x] = 0.0f;
    }
  const Tensor image = Tensor::from_vector(pixels, {1, 16, 16, 1});
  const Tensor pool_weight = Tensor::full({1, 4, 4, 1}, 1.0 / 16.0);
  const Tensor detector_weight = Tensor::from_vector<float>({1.0f, -1.0f}, {2, 1, 1, 1});
  const Tensor detector_bias = Tensor::from_vector<float>({-0.5f, 0.2f}, {2});
  const Tensor head = Tensor::from_vector<float>({2.0f, -1.0f, -1.0f, 2.0f}, {2, 2});
  auto features = [&](const Tensor& x) {
    return relu(conv2d(conv2d(x, pool_weight, Tensor(), stride_padding(4, 0)), detector_weight, detector_bias,
                       Conv2dOptions{}));
  };
  auto classify = [&](const Tensor& a) { return linear(global_avg_pool(a), head, Tensor()); };

  for (int64_t c = 0; c < 2; ++c) {
    const GradCamResult result = grad_cam(features, classify, image, c);
    const std::vector<float> heat = result.heat_map.to_vector<float>();
    ASSERT_EQ(result.heat_map.shape(), (Shape{16, 16}));
    const int region = c == 0 ? 0 : 12;  // top-left for bright, bottom-right for dark
    double inside = 0.0, outside = 0.0;
    for (int y = 0; y < 16; ++y)
      for (int x = 0; x < 16; ++x) {
        const bool in_region = y >= region && y < region + 4 && x >= region && x < region + 4;
        (in_region ? inside : outside) += heat[y * 16 + x];
        EXPECT_GE(heat[y * 16 + x], 0.0f);
        EXPECT_LE(heat[y * 16 + x], 1.0f);
      }
    inside /= 16.0;
    outside /= 240.0;
    EXPECT_GT(inside, 0.6) << "class " << c;
    EXPECT_LT(outside, 0.1) << "class " << c;
    const auto peak = std::max_element(heat.begin(), heat.end()) - heat.begin();
    EXPECT_EQ(peak / 16 / 4, region / 4) << "class " << c;
    EXPECT_EQ(peak % 16 / 4, region / 4) << "class " << c;
  }
}

class GradCamTorchParity : public ::testing::TestWithParam<DType> {};

TEST_P(GradCamTorchParity, MatchesPyTorchAutograd) {
  static const json reference = [] {
    std::ifstream file(PNEUMA_SOURCE_DIR "/tests/fixtures/metrics/grad_cam_reference.json");
    if (!file) throw std::runtime_error("cannot open tests/fixtures/metrics/grad_cam_reference.json");
    return json::parse(file);
  }();
  const DType dtype = GetParam();
  const double tolerance = dtype == DType::f64 ? 1e-6 : 2e-4;  // heat map is f32 either way
  auto tensor = [&](const json& values, const Shape& shape) {
    return Tensor::from_vector(values.get<std::vector<double>>(), shape).to(dtype);
  };
  const json& w = reference["weights"];
  const Tensor image = tensor(reference["image"], {1, 13, 10, 1});
  const Tensor w1 = tensor(w["conv1.weight"], {4, 3, 3, 1}), b1 = tensor(w["conv1.bias"], {4});
  const Tensor w2 = tensor(w["conv2.weight"], {6, 3, 3, 4}), b2 = tensor(w["conv2.bias"], {6});
  const Tensor w3 = tensor(w["conv3.weight"], {5, 1, 1, 6}), b3 = tensor(w["conv3.bias"], {5});
  const Tensor w4 = tensor(w["linear.weight"], {3, 5}), b4 = tensor(w["linear.bias"], {3});
  auto features = [&](const Tensor& x) {
    return relu(conv2d(relu(conv2d(x, w1, b1, stride_padding(1, 1))), w2, b2, stride_padding(2, 1)));
  };
  auto classify = [&](const Tensor& a) {
    return linear(global_avg_pool(relu(conv2d(a, w3, b3, Conv2dOptions{}))), w4, b4);
  };
  for (const json& c : reference["cases"]) {
    const int64_t class_index = c["class_index"].get<int64_t>();
    const GradCamResult result = grad_cam(features, classify, image, class_index);
    EXPECT_NEAR(result.class_logit, c["logit"].get<double>(), tolerance);
    auto compare = [&](const Tensor& got, const json& want, double scale, const char* what) {
      const std::vector<double> values = got.to(DType::f64).to_vector<double>();
      ASSERT_EQ(values.size(), want.size()) << what;
      for (size_t i = 0; i < values.size(); ++i)
        EXPECT_NEAR(values[i], want[i].get<double>(), tolerance * scale)
            << what << "[" << i << "] class " << class_index;
    };
    ASSERT_EQ(result.low_resolution.shape(), (Shape{7, 5}));
    compare(result.channel_weights, c["channel_weights"], 0.1, "channel_weights");
    compare(result.low_resolution, c["low_resolution"], 0.1, "low_resolution");
    compare(result.heat_map, c["heat_map"], 1.0, "heat_map");
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, GradCamTorchParity, ::testing::Values(DType::f64, DType::f32),
                         [](const ::testing::TestParamInfo<DType>& info) {
                           return std::string(info.param == DType::f64 ? "f64" : "f32");
                         });

TEST(GradCam, RejectsMisuseWithClearErrors) {
  const Tensor image = Tensor::ones({1, 4, 4, 1});
  const Tensor head = Tensor::ones({2, 1});
  auto features = [](const Tensor& x) { return x; };
  auto classify = [&](const Tensor& a) { return linear(global_avg_pool(a), head, Tensor()); };
  auto message = [](auto&& call) {
    try {
      call();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] { grad_cam(features, classify, image, 2); }).find("class 2 does not exist"), std::string::npos);
  EXPECT_NE(message([&] {
              grad_cam(features, classify, Tensor::ones({4, 4, 1}), 0);
            }).find("[1, H, W, C]"),
            std::string::npos);
  EXPECT_NE(message([&] {
              grad_cam(
                  features,
                  [](const Tensor&) {
                    return Tensor::ones({1, 2});
                  },
                  image, 0);
            }).find("do not depend on the feature map"),
            std::string::npos);
  EXPECT_NE(message([&] {
              NoGradGuard no_grad;
              grad_cam(features, classify, image, 0);
            }).find("NoGradGuard"),
            std::string::npos);
}

TEST(GradCam, BilinearResizeMatchesAlignCornersFalse) {
  // 1x2 -> 1x4: source positions (x + 0.5)/2 − 0.5 = −0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to the edge).
  const Tensor map = Tensor::from_vector<float>({0.0f, 4.0f}, {1, 2});
  EXPECT_EQ(resize_map_bilinear(map, 1, 4).to_vector<float>(), (std::vector<float>{0.0f, 1.0f, 3.0f, 4.0f}));
  EXPECT_EQ(resize_map_bilinear(map, 2, 2).to_vector<float>(), (std::vector<float>{0.0f, 4.0f, 0.0f, 4.0f}));
}

}  // namespace
}  // namespace pneuma::explain
