// batch_norm over the last (channel) axis. Training: normalise with this batch's statistics (the gradient flows
// through them) and update the running statistics in place. Inference / frozen: normalise with the running
// statistics, treated as constants.
#include "engine/ops.h"
#include "engine/ops/op_support.h"
#include "kernels/batch_norm.h"

namespace pneuma {

Tensor batch_norm(const Tensor& input_, const Tensor& gamma_, const Tensor& beta_, const Tensor& running_mean,
                  const Tensor& running_variance, bool use_batch_statistics, double momentum, double eps) {
  const char* op = "batch_norm";
  const DType dtype = ops_detail::check_floating_operands(
      op, {{"input", input_}},
      {{"gamma", gamma_}, {"beta", beta_}, {"running_mean", running_mean}, {"running_variance", running_variance}});
  PNEUMA_CHECK(input_.rank() >= 1, "batch_norm: input must have a channel axis, got %s", input_.describe().c_str());
  kernels::BatchNormShape s;
  s.channels = input_.dim(-1);
  s.rows = shape_numel(Shape(input_.shape().begin(), input_.shape().end() - 1));
  PNEUMA_CHECK(s.rows > 0 && s.channels > 0, "batch_norm: input %s is empty", input_.describe().c_str());
  if (gamma_.defined()) ops_detail::check_vector(op, {"gamma", gamma_}, s.channels);
  if (beta_.defined()) ops_detail::check_vector(op, {"beta", beta_}, s.channels);
  PNEUMA_CHECK(running_mean.defined() == running_variance.defined(),
               "batch_norm: running_mean and running_variance must both be defined or both undefined");
  const bool has_running = running_mean.defined();
  if (has_running) {
    ops_detail::check_vector(op, {"running_mean", running_mean}, s.channels);
    ops_detail::check_vector(op, {"running_variance", running_variance}, s.channels);
    PNEUMA_CHECK(running_mean.is_contiguous() && running_variance.is_contiguous(),
                 "batch_norm: running statistics must be contiguous to be updated in place");
  }
  PNEUMA_CHECK(eps >= 0, "batch_norm: eps must be non-negative, got %g", eps);
  PNEUMA_CHECK(use_batch_statistics || has_running,
               "batch_norm: inference mode (use_batch_statistics = false) needs running_mean and running_variance");
  PNEUMA_CHECK(!use_batch_statistics || s.rows > 1,
               "batch_norm: training needs more than one value per channel, got input %s",
               input_.describe().c_str());

  const Tensor input = input_.contiguous();
  const Tensor gamma = ops_detail::contiguous_or_undefined(gamma_);
  const Tensor beta = ops_detail::contiguous_or_undefined(beta_);
  Tensor mean, variance;
  if (use_batch_statistics) {
    mean = Tensor::empty({s.channels}, dtype, input.device());
    variance = Tensor::empty({s.channels}, dtype, input.device());
  } else {
    // Copies: the backward must see the statistics this forward used, even if the buffers change later.
    mean = running_mean.clone();
    variance = running_variance.clone();
  }
  Tensor output = Tensor::empty(input.shape(), dtype, input.device());
  // Running statistics are buffers, not part of the graph: updated in place, never recorded.
  Tensor running_mean_buffer = running_mean, running_variance_buffer = running_variance;
  ops_detail::dispatch(
      input, op,
      [&]<class T>() {
        if (use_batch_statistics)
          kernels::cpu::batch_norm_statistics<T>(s, input.data<T>(), mean.data<T>(), variance.data<T>());
        kernels::cpu::batch_norm_apply<T>(s, input.data<T>(), mean.data<T>(), variance.data<T>(), static_cast<T>(eps),
                                          ops_detail::data_or_null<T>(gamma), ops_detail::data_or_null<T>(beta),
                                          output.data<T>());
        if (use_batch_statistics && has_running)
          kernels::cpu::batch_norm_update_running<T>(s, mean.data<T>(), variance.data<T>(), static_cast<T>(momentum),
                                                     running_mean_buffer.data<T>(),
                                                     running_variance_buffer.data<T>());
      },
      [&] {
        if (use_batch_statistics)
          kernels::cuda::batch_norm_statistics<float>(s, input.data<float>(), mean.data<float>(),
                                                      variance.data<float>());
        kernels::cuda::batch_norm_apply<float>(s, input.data<float>(), mean.data<float>(), variance.data<float>(),
                                               static_cast<float>(eps), ops_detail::data_or_null<float>(gamma),
                                               ops_detail::data_or_null<float>(beta), output.data<float>());
        if (use_batch_statistics && has_running)
          kernels::cuda::batch_norm_update_running<float>(s, mean.data<float>(), variance.data<float>(),
                                                          static_cast<float>(momentum),
                                                          running_mean_buffer.data<float>(),
                                                          running_variance_buffer.data<float>());
      });

  const Tensor saved_input = input.detach(), saved_gamma = ops_detail::detach_or_undefined(gamma);
  return record_operation(
      op, output, {input_, gamma_, beta_},
      [s, saved_input, saved_gamma, mean, variance, eps, use_batch_statistics](const Tensor& grad_output_,
                                                                                const std::vector<bool>& needs) {
        const Tensor grad_output = grad_output_.contiguous();
        const DType dtype = grad_output.dtype();
        Tensor grad_input, grad_gamma, grad_beta;
        const Device device = grad_output.device();
        if (needs[0]) grad_input = Tensor::empty(saved_input.shape(), dtype, device);
        if (needs[1]) grad_gamma = Tensor::empty({s.channels}, dtype, device);
        if (needs[2]) grad_beta = Tensor::empty({s.channels}, dtype, device);
        ops_detail::dispatch(
            grad_output, "batch_norm backward",
            [&]<class T>() {
              kernels::cpu::batch_norm_backward<T>(
                  s, grad_output.data<T>(), saved_input.data<T>(), mean.data<T>(), variance.data<T>(),
                  static_cast<T>(eps), ops_detail::data_or_null<T>(saved_gamma), use_batch_statistics,
                  ops_detail::mutable_data_or_null<T>(grad_input), ops_detail::mutable_data_or_null<T>(grad_gamma),
                  ops_detail::mutable_data_or_null<T>(grad_beta));
            },
            [&] {
              kernels::cuda::batch_norm_backward<float>(
                  s, grad_output.data<float>(), saved_input.data<float>(), mean.data<float>(), variance.data<float>(),
                  static_cast<float>(eps), ops_detail::data_or_null<float>(saved_gamma), use_batch_statistics,
                  ops_detail::mutable_data_or_null<float>(grad_input),
                  ops_detail::mutable_data_or_null<float>(grad_gamma),
                  ops_detail::mutable_data_or_null<float>(grad_beta));
            });
        return std::vector<Tensor>{grad_input, grad_gamma, grad_beta};
      });
}

}  // namespace pneuma
