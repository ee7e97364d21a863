// The differentiable operations of the engine: each takes and returns Tensors, runs the kernel for the tensors'
// device and dtype (f32, or f64 for gradient checks), and records its backward on the autograd tape when grad mode
// is on. Layout: images NHWC, conv weights [out, kh, kw, in/groups], linear weights [out, in].
// One op group per file in engine/ops/.
#pragma once
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/rng.h"
#include "engine/tensor.h"
#include "kernels/activation.h"

namespace pneuma {

// ---- padding ------------------------------------------------------------------------------------
// Explicit per-side padding, or TensorFlow "SAME" (resolved from the input size at run time: the odd pixel goes
// to the bottom/right). PyTorch's symmetric padding p is explicit(p, p, p, p).
struct Padding2d {
  enum class Mode { explicit_sides, same } mode = Mode::explicit_sides;
  int64_t top = 0, left = 0, bottom = 0, right = 0;
  static Padding2d symmetric(int64_t p) { return {Mode::explicit_sides, p, p, p, p}; }
  static Padding2d sides(int64_t top, int64_t left, int64_t bottom, int64_t right) {
    return {Mode::explicit_sides, top, left, bottom, right};
  }
  static Padding2d same() { return {Mode::same, 0, 0, 0, 0}; }
};

// ---- convolution and linear ---------------------------------------------------------------------
struct Conv2dOptions {
  int64_t stride_height = 1, stride_width = 1;
  Padding2d padding;
  int64_t dilation_height = 1, dilation_width = 1;
  int64_t groups = 1;
};
// input [N, H, W, Cin], weight [Cout, KH, KW, Cin/groups], bias [Cout] or undefined.
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const Conv2dOptions& options);
// input [..., in], weight [out, in], bias [out] or undefined -> [..., out].
Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias);

// Which kernels run conv2d and linear on CUDA tensors: `native` (pneuma's own, the default) or `cudnn` (the
// baselines of kernels/baseline: cuDNN for conv2d, cuBLAS for linear), for side-by-side comparisons.
// Process-wide; the initial value comes from PNEUMA_CONV_IMPL=native|cudnn in the environment. CPU tensors always
// run the CPU kernels. (engine/ops/conv.cpp)
enum class ConvImplementation { native, cudnn };
void set_conv_implementation(ConvImplementation implementation);
ConvImplementation conv_implementation();
ConvImplementation conv_implementation_from_name(const std::string& name);  // "native" | "cudnn"; else throws
const char* conv_implementation_name(ConvImplementation implementation);

// ---- normalisation ------------------------------------------------------------------------------
// Over the last (channel) axis. use_batch_statistics: normalise with this batch's mean/variance (training) and,
// if running_mean/running_variance are defined, update them in place with `momentum` (PyTorch convention:
// running = (1-momentum)·running + momentum·batch, unbiased variance). Otherwise (inference, frozen) normalise
// with the running statistics and treat them as constants. gamma/beta may be undefined (1 / 0).
Tensor batch_norm(const Tensor& input, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                  const Tensor& running_variance, bool use_batch_statistics, double momentum, double eps);

// ---- activations --------------------------------------------------------------------------------
Tensor activation(const Tensor& input, kernels::Activation kind);
inline Tensor relu(const Tensor& x) { return activation(x, kernels::Activation::relu); }
inline Tensor relu6(const Tensor& x) { return activation(x, kernels::Activation::relu6); }
inline Tensor sigmoid(const Tensor& x) { return activation(x, kernels::Activation::sigmoid); }
inline Tensor silu(const Tensor& x) { return activation(x, kernels::Activation::silu); }
inline Tensor hard_sigmoid(const Tensor& x) { return activation(x, kernels::Activation::hard_sigmoid); }
inline Tensor hard_swish(const Tensor& x) { return activation(x, kernels::Activation::hard_swish); }
inline Tensor gelu(const Tensor& x) { return activation(x, kernels::Activation::gelu); }
inline Tensor gelu_tanh(const Tensor& x) { return activation(x, kernels::Activation::gelu_tanh); }
inline Tensor tanh(const Tensor& x) { return activation(x, kernels::Activation::tanh); }

// ---- squeeze-excitation pieces ------------------------------------------------------------------
Tensor global_avg_pool(const Tensor& input);                     // [N, H, W, C] -> [N, C]
Tensor channel_scale(const Tensor& input, const Tensor& scale);  // [N, H, W, C] · [N, C] -> [N, H, W, C]

// ---- elementwise with NumPy broadcasting ---------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor subtract(const Tensor& a, const Tensor& b);
Tensor multiply(const Tensor& a, const Tensor& b);
Tensor divide(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& input, double alpha);  // alpha · input
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return subtract(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return multiply(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return divide(a, b); }
inline Tensor operator*(const Tensor& a, double alpha) { return scale(a, alpha); }
inline Tensor operator*(double alpha, const Tensor& a) { return scale(a, alpha); }

// ---- reductions (to a scalar of shape []) -------------------------------------------------------
Tensor sum(const Tensor& input);
Tensor mean(const Tensor& input);

// ---- shape --------------------------------------------------------------------------------------
Tensor reshape(const Tensor& input, const Shape& shape);  // one -1 allowed; a view when input is contiguous
Tensor flatten(const Tensor& input, int start_axis = 1);  // [N, H, W, C] -> [N, H·W·C]
Tensor concat(const std::vector<Tensor>& inputs, int axis);

// ---- pooling ------------------------------------------------------------------------------------
struct Pool2dOptions {
  int64_t kernel_height = 2, kernel_width = 2;
  int64_t stride_height = 2, stride_width = 2;
  Padding2d padding;
  bool count_include_pad = true;  // average pooling: PyTorch's default; Keras/TF use false
};
Tensor max_pool2d(const Tensor& input, const Pool2dOptions& options);
Tensor avg_pool2d(const Tensor& input, const Pool2dOptions& options);

// ---- regularisation -----------------------------------------------------------------------------
// Identity when !training or p == 0. The mask comes from `generator` and is regenerated in the backward pass.
Tensor dropout(const Tensor& input, double p, bool training, Generator& generator = default_generator());
// Stochastic depth: drops whole samples (axis 0) with probability p, scaling survivors by 1/(1-p).
Tensor drop_path(const Tensor& input, double p, bool training, Generator& generator = default_generator());

// ---- softmax ------------------------------------------------------------------------------------
Tensor softmax(const Tensor& input);      // over the last axis
Tensor log_softmax(const Tensor& input);  // over the last axis

// ---- losses (mean reduction, scalar result) -----------------------------------------------------
struct CrossEntropyOptions {
  Tensor class_weights;  // [classes] or undefined
  double label_smoothing = 0.0;
};
// logits [N, K], targets i32 [N].
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, const CrossEntropyOptions& options = {});
// logits and targets (floating, in [0,1]) of the same shape; pos_weight [last axis] or undefined.
Tensor bce_with_logits(const Tensor& logits, const Tensor& targets, const Tensor& pos_weight = Tensor());
// Binary focal loss on sigmoid logits (torchvision.ops.sigmoid_focal_loss, mean); alpha < 0 disables α.
Tensor binary_focal_loss(const Tensor& logits, const Tensor& targets, double alpha = 0.25, double gamma = 2.0);
// Multi-class focal loss on softmax logits; targets i32 [N]; alpha [K] or undefined.
Tensor focal_loss(const Tensor& logits, const Tensor& targets, const Tensor& alpha = Tensor(), double gamma = 2.0);

// ---- not recorded: in-place helpers for the engine itself ----------------------------------------
void add_in_place(Tensor& destination, const Tensor& source);  // destination += source (same shape)
void scale_in_place(Tensor& tensor, double alpha);             // tensor *= alpha
double sum_of_squares(const Tensor& tensor);                    // Σ x², accumulated in double
bool all_finite(const Tensor& tensor);

}  // namespace pneuma
