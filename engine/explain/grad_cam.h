// Grad-CAM (Selvaraju et al., 2017) over any model split in two callables, so the engine needs no model type:
// `features` maps the input image [1, H, W, C] to a feature map A [1, h, w, k] (run without gradient recording),
// `classify` maps A to logits [1, K]. The feature map is made a leaf that requires a gradient, `classify` is run
// with recording on, and backward starts from logit[class_index]. Then
//   w_c = mean over (y, x) of ∂logit/∂A[y, x, c],   cam = ReLU(Σ_c w_c · A[·, ·, c])   (h × w),
// upsampled bilinearly (align_corners = false, PyTorch's F.interpolate / OpenCV resize) to H × W and divided by its
// maximum, so it lies in [0, 1] (all zeros when the maximum is 0).
//
// Put the model in evaluation mode first (batch norm on running statistics, no dropout). grad_cam must run with grad
// mode on (not inside a NoGradGuard). The backward pass reaches the parameters used by `classify` like any other:
// their .grad accumulate, so zero them before training continues.
#pragma once
#include <cstdint>
#include <functional>

#include "engine/tensor.h"

namespace pneuma::explain {

struct GradCamResult {
  Tensor heat_map;          // f32 [H, W] in [0, 1], the image's size
  Tensor low_resolution;    // f32 [h, w], ReLU(Σ w_c A_c) before upsampling and normalisation
  Tensor channel_weights;   // f32 [k]
  int64_t class_index = 0;  // the class explained
  double class_logit = 0;   // its logit
};

using TensorFunction = std::function<Tensor(const Tensor&)>;

// class_index < 0 explains the arg-max class. The image is [1, H, W, C] on the device the model runs on; the
// results are on the CPU.
GradCamResult grad_cam(const TensorFunction& features, const TensorFunction& classify, const Tensor& image,
                       int64_t class_index);

// Bilinear resize of a single-channel map [h, w] -> [height, width] (align_corners = false, edge clamped).
Tensor resize_map_bilinear(const Tensor& map, int64_t height, int64_t width);

}  // namespace pneuma::explain
