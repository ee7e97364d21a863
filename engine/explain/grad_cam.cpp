// Grad-CAM: feature map as a gradient leaf, backward from one logit, gradient-weighted channel sum, bilinear
// upsampling and max-normalisation.
#include "engine/explain/grad_cam.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "kernels/error.h"

namespace pneuma::explain {

Tensor resize_map_bilinear(const Tensor& map, int64_t height, int64_t width) {
  PNEUMA_CHECK(map.defined() && map.rank() == 2 && map.numel() > 0, "resize_map_bilinear: map must be [h, w], got %s",
               map.defined() ? shape_string(map.shape()).c_str() : "undefined");
  PNEUMA_CHECK(height > 0 && width > 0, "resize_map_bilinear: target size %lldx%lld", static_cast<long long>(height),
               static_cast<long long>(width));
  const int64_t in_height = map.dim(0), in_width = map.dim(1);
  const std::vector<double> source = map.to(Device::cpu()).to(DType::f64).to_vector<double>();
  // Source coordinate of an output pixel centre (align_corners = false), clamped at 0 like PyTorch.
  struct Tap {
    int64_t low, high;
    double fraction;
  };
  auto taps = [](int64_t out, int64_t in) {
    std::vector<Tap> result(static_cast<size_t>(out));
    const double scale = static_cast<double>(in) / static_cast<double>(out);
    for (int64_t i = 0; i < out; ++i) {
      const double position = std::max(0.0, (static_cast<double>(i) + 0.5) * scale - 0.5);
      const auto low = std::min(static_cast<int64_t>(position), in - 1);
      result[static_cast<size_t>(i)] = {low, std::min(low + 1, in - 1), position - static_cast<double>(low)};
    }
    return result;
  };
  const std::vector<Tap> rows = taps(height, in_height), columns = taps(width, in_width);
  std::vector<float> out(static_cast<size_t>(height * width));
  for (int64_t y = 0; y < height; ++y) {
    const Tap& r = rows[static_cast<size_t>(y)];
    for (int64_t x = 0; x < width; ++x) {
      const Tap& c = columns[static_cast<size_t>(x)];
      auto at = [&](int64_t yy, int64_t xx) { return source[static_cast<size_t>(yy * in_width + xx)]; };
      const double top = at(r.low, c.low) * (1.0 - c.fraction) + at(r.low, c.high) * c.fraction;
      const double bottom = at(r.high, c.low) * (1.0 - c.fraction) + at(r.high, c.high) * c.fraction;
      out[static_cast<size_t>(y * width + x)] = static_cast<float>(top * (1.0 - r.fraction) + bottom * r.fraction);
    }
  }
  return Tensor::from_vector(out, {height, width});
}

GradCamResult grad_cam(const TensorFunction& features, const TensorFunction& classify, const Tensor& image,
                       int64_t class_index) {
  PNEUMA_CHECK(image.defined() && image.rank() == 4 && image.dim(0) == 1,
               "grad_cam: image must be [1, H, W, C], got %s",
               image.defined() ? shape_string(image.shape()).c_str() : "undefined");
  PNEUMA_CHECK(grad_enabled(), "grad_cam: gradient recording is off (called inside a NoGradGuard)");
  Tensor feature_map;
  {
    NoGradGuard no_grad;
    feature_map = features(image);
  }
  PNEUMA_CHECK(feature_map.defined() && feature_map.rank() == 4 && feature_map.dim(0) == 1 && feature_map.numel() > 0,
               "grad_cam: features must return [1, h, w, k], got %s",
               feature_map.defined() ? shape_string(feature_map.shape()).c_str() : "undefined");
  Tensor leaf = feature_map.detach().contiguous().clone();
  leaf.set_requires_grad(true);

  const Tensor logits = classify(leaf);
  PNEUMA_CHECK(logits.defined() && logits.rank() == 2 && logits.dim(0) == 1 && logits.dim(1) > 0,
               "grad_cam: classify must return logits [1, K], got %s",
               logits.defined() ? shape_string(logits.shape()).c_str() : "undefined");
  const std::vector<double> logit_values = logits.detach().to(Device::cpu()).to(DType::f64).to_vector<double>();
  const auto num_classes = static_cast<int64_t>(logit_values.size());
  if (class_index < 0) class_index = std::max_element(logit_values.begin(), logit_values.end()) - logit_values.begin();
  PNEUMA_CHECK(class_index < num_classes, "grad_cam: class %lld does not exist (the model has %lld classes)",
               static_cast<long long>(class_index), static_cast<long long>(num_classes));
  PNEUMA_CHECK(logits.requires_grad(), "grad_cam: classify's logits do not depend on the feature map");
  std::vector<double> one_hot(static_cast<size_t>(num_classes), 0.0);
  one_hot[static_cast<size_t>(class_index)] = 1.0;
  const Tensor seed = Tensor::from_vector(one_hot, logits.shape()).to(logits.dtype()).to(logits.device());
  logits.backward(seed);
  PNEUMA_CHECK(leaf.grad().defined(), "grad_cam: the backward pass did not reach the feature map");

  const int64_t h = leaf.dim(1), w = leaf.dim(2), k = leaf.dim(3);
  const std::vector<double> activation = leaf.detach().to(Device::cpu()).to(DType::f64).to_vector<double>();
  const std::vector<double> gradient = leaf.grad().to(Device::cpu()).to(DType::f64).to_vector<double>();
  std::vector<double> weights(static_cast<size_t>(k), 0.0);
  for (int64_t p = 0; p < h * w; ++p)
    for (int64_t c = 0; c < k; ++c) weights[static_cast<size_t>(c)] += gradient[static_cast<size_t>(p * k + c)];
  for (double& weight : weights) weight /= static_cast<double>(h * w);
  std::vector<float> cam(static_cast<size_t>(h * w));
  for (int64_t p = 0; p < h * w; ++p) {
    double sum = 0.0;
    for (int64_t c = 0; c < k; ++c) sum += weights[static_cast<size_t>(c)] * activation[static_cast<size_t>(p * k + c)];
    cam[static_cast<size_t>(p)] = static_cast<float>(std::max(0.0, sum));
  }

  GradCamResult result;
  result.class_index = class_index;
  result.class_logit = logit_values[static_cast<size_t>(class_index)];
  result.low_resolution = Tensor::from_vector(cam, {h, w});
  result.channel_weights = Tensor::from_vector(std::vector<float>(weights.begin(), weights.end()), {k});
  Tensor heat_map = resize_map_bilinear(result.low_resolution, image.dim(1), image.dim(2));
  float* values = heat_map.data<float>();
  const float maximum = *std::max_element(values, values + heat_map.numel());
  if (maximum > 0.0f)
    for (int64_t i = 0; i < heat_map.numel(); ++i) values[i] = std::clamp(values[i] / maximum, 0.0f, 1.0f);
  result.heat_map = heat_map;
  return result;
}

}  // namespace pneuma::explain
