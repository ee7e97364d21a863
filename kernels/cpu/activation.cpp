// Pointwise activations with PyTorch's formulas, including its derivative conventions at the kinks.
#include "kernels/activation.h"

#include <cmath>

#include "kernels/error.h"
#include "kernels/parallel.h"

namespace pneuma::kernels {

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::identity:
      return "identity";
    case Activation::relu:
      return "relu";
    case Activation::relu6:
      return "relu6";
    case Activation::sigmoid:
      return "sigmoid";
    case Activation::silu:
      return "silu";
    case Activation::hard_sigmoid:
      return "hard_sigmoid";
    case Activation::hard_swish:
      return "hard_swish";
    case Activation::gelu:
      return "gelu";
    case Activation::gelu_tanh:
      return "gelu_tanh";
    case Activation::tanh:
      return "tanh";
  }
  return "unknown";
}

namespace cpu {
namespace {

constexpr int64_t kGrain = 8192;  // elements per thread at least; below this threading costs more than it saves

// No __restrict__: in-place use (output == input) is allowed.
template <class T, class Function>
void map_unary(int64_t count, const T* input, T* output, Function function) {
  parallel_for(count, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) output[i] = function(input[i]);
  });
}

template <class T, class Derivative>
void map_gradient(int64_t count, const T* input, const T* grad_output, T* grad_input, Derivative derivative) {
  parallel_for(count, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) grad_input[i] = derivative(input[i], grad_output[i]);
  });
}

template <class T>
T sigmoid_of(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// tanh-approximation GELU constants: sqrt(2/pi) and the cubic coefficient.
template <class T>
constexpr T kGeluTanhBeta = T(0.79788456080286535587989211986876);
template <class T>
constexpr T kGeluTanhKappa = T(0.044715);
template <class T>
constexpr T kSqrtHalf = T(0.70710678118654752440084436210485);
template <class T>
constexpr T kInverseSqrtTwoPi = T(0.39894228040143267793994605993438);

}  // namespace

template <class T>
void activation_forward(Activation a, int64_t count, const T* input, T* output) {
  PNEUMA_CHECK(count >= 0, "activation_forward: negative count %lld", static_cast<long long>(count));
  if (count == 0) return;
  PNEUMA_CHECK(input != nullptr && output != nullptr, "activation_forward: null pointer");
  switch (a) {
    case Activation::identity:
      return map_unary(count, input, output, [](T x) { return x; });
    case Activation::relu:  // written so NaN propagates, as in PyTorch
      return map_unary(count, input, output, [](T x) { return x < T(0) ? T(0) : x; });
    case Activation::relu6:
      return map_unary(count, input, output, [](T x) { return x < T(0) ? T(0) : (x > T(6) ? T(6) : x); });
    case Activation::sigmoid:
      return map_unary(count, input, output, [](T x) { return sigmoid_of(x); });
    case Activation::silu:
      return map_unary(count, input, output, [](T x) { return x / (T(1) + std::exp(-x)); });
    case Activation::hard_sigmoid:
      return map_unary(count, input, output, [](T x) {
        const T shifted = x + T(3);
        return (shifted < T(0) ? T(0) : (shifted > T(6) ? T(6) : shifted)) / T(6);
      });
    case Activation::hard_swish:
      return map_unary(count, input, output, [](T x) {
        const T shifted = x + T(3);
        return x * (shifted < T(0) ? T(0) : (shifted > T(6) ? T(6) : shifted)) / T(6);
      });
    case Activation::gelu:
      return map_unary(count, input, output, [](T x) { return x * T(0.5) * (T(1) + std::erf(x * kSqrtHalf<T>)); });
    case Activation::gelu_tanh:
      return map_unary(count, input, output, [](T x) {
        const T inner = kGeluTanhBeta<T> * (x + kGeluTanhKappa<T> * x * x * x);
        return T(0.5) * x * (T(1) + std::tanh(inner));
      });
    case Activation::tanh:
      return map_unary(count, input, output, [](T x) { return std::tanh(x); });
  }
  PNEUMA_FAIL("activation_forward: unknown activation %d", static_cast<int>(a));
}

template <class T>
void activation_backward(Activation a, int64_t count, const T* input, const T* grad_output, T* grad_input) {
  PNEUMA_CHECK(count >= 0, "activation_backward: negative count %lld", static_cast<long long>(count));
  if (count == 0) return;
  PNEUMA_CHECK(input != nullptr && grad_output != nullptr && grad_input != nullptr,
               "activation_backward: null pointer");
  switch (a) {
    case Activation::identity:
      return map_gradient(count, input, grad_output, grad_input, [](T, T g) { return g; });
    case Activation::relu:  // relu'(0) = 0
      return map_gradient(count, input, grad_output, grad_input, [](T x, T g) { return x > T(0) ? g : T(0); });
    case Activation::relu6:  // hardtanh_backward: zero on x <= 0 and x >= 6 (open interval passes the gradient)
      return map_gradient(count, input, grad_output, grad_input,
                          [](T x, T g) { return (x <= T(0) || x >= T(6)) ? T(0) : g; });
    case Activation::sigmoid:
      return map_gradient(count, input, grad_output, grad_input, [](T x, T g) {
        const T y = sigmoid_of(x);
        return g * (T(1) - y) * y;
      });
    case Activation::silu:
      return map_gradient(count, input, grad_output, grad_input, [](T x, T g) {
        const T s = sigmoid_of(x);
        return g * s * (T(1) + x * (T(1) - s));
      });
    case Activation::hard_sigmoid:  // 1/6 on the open interval (-3, 3)
      return map_gradient(count, input, grad_output, grad_input,
                          [](T x, T g) { return (x > T(-3) && x < T(3)) ? g / T(6) : T(0); });
    case Activation::hard_swish:  // PyTorch's scalar/CUDA formula: x/3 + 1/2 on the closed interval [-3, 3]
      return map_gradient(count, input, grad_output, grad_input, [](T x, T g) {
        if (x < T(-3)) return T(0);
        if (x <= T(3)) return g * (x / T(3) + T(0.5));
        return g;
      });
    case Activation::gelu:  // Φ(x) + x·φ(x)
      return map_gradient(count, input, grad_output, grad_input, [](T x, T g) {
        const T cdf = T(0.5) * (T(1) + std::erf(x * kSqrtHalf<T>));
        const T pdf = kInverseSqrtTwoPi<T> * std::exp(T(-0.5) * x * x);
        return g * (cdf + x * pdf);
      });
    case Activation::gelu_tanh:
      return map_gradient(count, input, grad_output, grad_input, [](T x, T g) {
        const T x_squared = x * x;
        const T tanh_inner = std::tanh(kGeluTanhBeta<T> * (x + kGeluTanhKappa<T> * x_squared * x));
        const T left_derivative = T(0.5) * (T(1) + tanh_inner);
        const T right_derivative = T(0.5) * x * (T(1) - tanh_inner * tanh_inner) * kGeluTanhBeta<T> *
                                   (T(1) + T(3) * kGeluTanhKappa<T> * x_squared);
        return g * (left_derivative + right_derivative);
      });
    case Activation::tanh:
      return map_gradient(count, input, grad_output, grad_input, [](T x, T g) {
        const T y = std::tanh(x);
        return g * (T(1) - y * y);
      });
  }
  PNEUMA_FAIL("activation_backward: unknown activation %d", static_cast<int>(a));
}

template void activation_forward<float>(Activation, int64_t, const float*, float*);
template void activation_forward<double>(Activation, int64_t, const double*, double*);
template void activation_backward<float>(Activation, int64_t, const float*, const float*, float*);
template void activation_backward<double>(Activation, int64_t, const double*, const double*, double*);

}  // namespace cpu
}  // namespace pneuma::kernels
