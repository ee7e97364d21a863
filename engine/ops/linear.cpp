// linear: input [..., in] · weight[out, in]ᵀ + bias[out] -> [..., out]; leading axes are flattened into rows.
// CUDA tensors (f32) run pneuma's GEMM core, or cuBLAS when the `cudnn` implementation is selected
// (set_conv_implementation, engine/ops.h).
#include "engine/ops.h"
#include "engine/ops/op_support.h"
#include "kernels/baseline/cublas_linear.h"
#include "kernels/linear.h"

namespace pneuma {
namespace {
bool use_cublas() { return conv_implementation() == ConvImplementation::cudnn; }
}  // namespace

Tensor linear(const Tensor& input_, const Tensor& weight_, const Tensor& bias_) {
  const char* op = "linear";
  const DType dtype =
      ops_detail::check_floating_operands(op, {{"input", input_}, {"weight", weight_}}, {{"bias", bias_}});
  PNEUMA_CHECK(input_.rank() >= 1, "linear: input must have at least one axis, got %s", input_.describe().c_str());
  ops_detail::check_rank(op, {"weight", weight_}, 2);
  kernels::LinearShape s;
  s.in_features = input_.dim(-1);
  s.out_features = weight_.dim(0);
  s.rows = shape_numel(Shape(input_.shape().begin(), input_.shape().end() - 1));
  PNEUMA_CHECK(weight_.dim(1) == s.in_features, "linear: input %s has %lld features but weight %s expects %lld",
               input_.describe().c_str(), static_cast<long long>(s.in_features), weight_.describe().c_str(),
               static_cast<long long>(weight_.dim(1)));
  if (bias_.defined()) ops_detail::check_vector(op, {"bias", bias_}, s.out_features);

  const Tensor input = input_.contiguous(), weight = weight_.contiguous();
  const Tensor bias = ops_detail::contiguous_or_undefined(bias_);
  Shape output_shape = input.shape();
  output_shape.back() = s.out_features;
  Tensor output = Tensor::empty(output_shape, dtype, input.device());
  ops_detail::dispatch(
      input, op,
      [&]<class T>() {
        kernels::cpu::linear_forward<T>(s, input.data<T>(), weight.data<T>(), ops_detail::data_or_null<T>(bias),
                                        output.data<T>());
      },
      [&] {
        const float* b = ops_detail::data_or_null<float>(bias);
        if (use_cublas())
          kernels::cublas::linear_forward(s, input.data<float>(), weight.data<float>(), b, output.data<float>());
        else
          kernels::cuda::linear_forward(s, input.data<float>(), weight.data<float>(), b, output.data<float>());
      });

  // Save only what the backward will read: the weight gradient needs the input, the input gradient the weight.
  const Tensor saved_input = weight_.requires_grad() ? input.detach() : Tensor();
  const Tensor saved_weight = input_.requires_grad() ? weight.detach() : Tensor();
  const Shape input_shape = input.shape(), weight_shape = weight.shape();
  return record_operation(
      op, output, {input_, weight_, bias_},
      [s, saved_input, saved_weight, input_shape, weight_shape](const Tensor& grad_output_,
                                                                const std::vector<bool>& needs) {
        const Tensor grad_output = grad_output_.contiguous();
        const DType dtype = grad_output.dtype();
        const Device device = grad_output.device();
        Tensor grad_input, grad_weight, grad_bias;
        if (needs[0]) grad_input = Tensor::empty(input_shape, dtype, device);
        if (needs[1]) grad_weight = Tensor::empty(weight_shape, dtype, device);
        if (needs[2]) grad_bias = Tensor::empty({s.out_features}, dtype, device);
        ops_detail::dispatch(
            grad_output, "linear backward",
            [&]<class T>() {
              const T* dy = grad_output.data<T>();
              if (needs[0])
                kernels::cpu::linear_backward_input<T>(s, dy, saved_weight.data<T>(), grad_input.data<T>());
              if (needs[1])
                kernels::cpu::linear_backward_weight<T>(s, saved_input.data<T>(), dy, grad_weight.data<T>());
              if (needs[2]) kernels::cpu::linear_backward_bias<T>(s, dy, grad_bias.data<T>());
            },
            [&] {
              const float* dy = grad_output.data<float>();
              const bool cublas = use_cublas();
              if (needs[0]) {
                if (cublas)
                  kernels::cublas::linear_backward_input(s, dy, saved_weight.data<float>(), grad_input.data<float>());
                else
                  kernels::cuda::linear_backward_input(s, dy, saved_weight.data<float>(), grad_input.data<float>());
              }
              if (needs[1]) {
                if (cublas)
                  kernels::cublas::linear_backward_weight(s, saved_input.data<float>(), dy, grad_weight.data<float>());
                else
                  kernels::cuda::linear_backward_weight(s, saved_input.data<float>(), dy, grad_weight.data<float>());
              }
              if (needs[2]) {
                if (cublas)
                  kernels::cublas::linear_backward_bias(s, dy, grad_bias.data<float>());
                else
                  kernels::cuda::linear_backward_bias(s, dy, grad_bias.data<float>());
              }
            });
        return std::vector<Tensor>{grad_input, grad_weight, grad_bias};
      });
}

}  // namespace pneuma
