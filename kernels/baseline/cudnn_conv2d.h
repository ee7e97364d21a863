// cuDNN baseline for conv2d (legacy cudnnConvolution* API, NHWC tensors, KRSC = [out, kh, kw, in/groups] filters):
// the same contracts as kernels::cuda::conv2d_* (kernels/conv2d.h), so every comparison — tests, benchmarks, the
// engine's `cudnn` convolution implementation — is one call away. Algorithms are chosen once per shape with
// cudnnFind*AlgorithmEx (the fastest that fits a 256 MiB workspace), with TF32 allowed or not as
// kernels::cuda::matmul_precision() says. cuDNN pads symmetrically only: asymmetric padding (TensorFlow SAME)
// goes through an explicitly padded copy of the input. CUDA builds only; without cuDNN at build time every call
// fails with a clear message and available() is false.
#pragma once
#include "kernels/conv2d.h"

namespace pneuma::kernels::cudnn {
bool available();  // this build links cuDNN
void conv2d_forward(const Conv2dShape& s, const float* input, const float* weight, const float* bias, float* output);
void conv2d_backward_input(const Conv2dShape& s, const float* grad_output, const float* weight, float* grad_input);
void conv2d_backward_weight(const Conv2dShape& s, const float* input, const float* grad_output, float* grad_weight);
void conv2d_backward_bias(const Conv2dShape& s, const float* grad_output, float* grad_bias);
}  // namespace pneuma::kernels::cudnn
