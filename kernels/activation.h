// Pointwise activations, forward and backward.
#pragma once
#include <cstdint>

namespace pneuma::kernels {
enum class Activation : int {
  identity,
  relu,
  relu6,
  sigmoid,
  silu,          // x·sigmoid(x), a.k.a. swish
  hard_sigmoid,  // relu6(x + 3) / 6  (PyTorch's definition)
  hard_swish,    // x · hard_sigmoid(x)
  gelu,          // exact: x·Φ(x) with erf
  gelu_tanh,     // tanh approximation
  tanh,
};
const char* activation_name(Activation a);
namespace cpu {
template <class T>
void activation_forward(Activation a, int64_t count, const T* input, T* output);
// grad_input = grad_output · f'(input). Overwrites grad_input. At kinks (relu at 0, relu6 at 0 and 6, hard_* at ±3)
// the derivative follows PyTorch (0 at relu's 0, and the open-interval convention for relu6 / hard_*).
template <class T>
void activation_backward(Activation a, int64_t count, const T* input, const T* grad_output, T* grad_input);
}  // namespace cpu
// CUDA (kernels/cuda/activation.cu): the same formulas and kink conventions, on the current device's compute
// stream. Instantiated for float.
namespace cuda {
template <class T>
void activation_forward(Activation a, int64_t count, const T* input, T* output);
template <class T>
void activation_backward(Activation a, int64_t count, const T* input, const T* grad_output, T* grad_input);
}  // namespace cuda
}  // namespace pneuma::kernels
