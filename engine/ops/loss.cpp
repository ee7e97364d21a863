// Classification losses (mean reduction, scalar result). Only the logits receive a gradient: targets, class
// weights, pos_weight and alpha are constants. On CUDA the loss stays on the device and the backward reads its
// incoming gradient there, so a training step never waits for the host.
#include "engine/ops.h"
#include "engine/ops/op_support.h"
#include "kernels/loss.h"

namespace pneuma {
namespace {

// logits [rows, classes] and i32 targets [rows] on the logits' device, as cross_entropy and focal_loss take them.
void check_class_targets(const char* op, const Tensor& logits, const Tensor& targets) {
  ops_detail::check_rank(op, {"logits", logits}, 2);
  PNEUMA_CHECK(targets.defined(), "%s: targets is undefined", op);
  PNEUMA_CHECK(targets.dtype() == DType::i32, "%s: targets must be i32 class indices, got %s", op,
               targets.describe().c_str());
  ops_detail::require_kernel(op, targets);
  PNEUMA_CHECK(targets.device() == logits.device(), "%s: targets %s must be on the device of logits %s", op,
               targets.describe().c_str(), logits.describe().c_str());
  PNEUMA_CHECK(targets.rank() == 1 && targets.dim(0) == logits.dim(0),
               "%s: targets %s must be [rows] for logits %s", op, targets.describe().c_str(),
               logits.describe().c_str());
  PNEUMA_CHECK(logits.dim(0) > 0 && logits.dim(1) > 0, "%s: logits %s is empty", op, logits.describe().c_str());
#if PNEUMA_WITH_CUDA
  // The CPU kernels name the offending row; the CUDA ones cannot throw, so the targets are checked here.
  if (targets.device().is_cuda()) {
    const Tensor packed = targets.contiguous();
    const int64_t invalid = kernels::cuda::count_invalid_targets(packed.numel(), logits.dim(1), packed.data<int32_t>());
    PNEUMA_CHECK(invalid == 0, "%s: %lld of %lld targets are outside [0, %lld)", op, static_cast<long long>(invalid),
                 static_cast<long long>(packed.numel()), static_cast<long long>(logits.dim(1)));
  }
#endif
}

// Binary losses: logits and floating targets of one shape; `classes` = size of the last axis (1 for a scalar).
int64_t check_binary_targets(const char* op, const Tensor& logits, const Tensor& targets) {
  PNEUMA_CHECK(targets.shape() == logits.shape(), "%s: targets %s must have the shape of logits %s", op,
               targets.describe().c_str(), logits.describe().c_str());
  PNEUMA_CHECK(logits.numel() > 0, "%s: logits %s is empty", op, logits.describe().c_str());
  return logits.rank() == 0 ? 1 : logits.dim(-1);
}

// Runs a loss: `forward_cpu.template operator()<T>()` returns the value (as double) on the CPU, `forward_cuda(loss)`
// writes it into the device scalar `loss`. The backward creates d(loss)/d(logits) and fills it with
// `backward_cpu.template operator()<T>(grad_loss, grad_logits)` or `backward_cuda(grad_output, grad_logits)`.
template <class ForwardCpu, class ForwardCuda, class BackwardCpu, class BackwardCuda>
Tensor run_loss(const char* op, const Tensor& logits_, const Tensor& logits, ForwardCpu forward_cpu,
                ForwardCuda forward_cuda, BackwardCpu backward_cpu, BackwardCuda backward_cuda) {
  Tensor output = Tensor::empty({}, logits.dtype(), logits.device());
  ops_detail::dispatch(
      logits, op, [&]<class T>() { output.fill(forward_cpu.template operator()<T>()); },
      [&] { forward_cuda(output.data<float>()); });
  const Shape logits_shape = logits_.shape();
  return record_operation(
      op, output, {logits_},
      [logits_shape, backward_cpu, backward_cuda](const Tensor& grad_output, const std::vector<bool>&) {
        Tensor grad_logits = Tensor::empty(logits_shape, grad_output.dtype(), grad_output.device());
        ops_detail::dispatch(
            grad_output, "loss backward",
            [&]<class T>() {
              backward_cpu.template operator()<T>(static_cast<T>(ops_detail::scalar_gradient(grad_output)),
                                                  grad_logits.data<T>());
            },
            [&] { backward_cuda(grad_output.contiguous().data<float>(), grad_logits.data<float>()); });
        return std::vector<Tensor>{grad_logits};
      });
}

}  // namespace

Tensor cross_entropy(const Tensor& logits_, const Tensor& targets_, const CrossEntropyOptions& options) {
  const char* op = "cross_entropy";
  ops_detail::check_floating_operands(op, {{"logits", logits_}}, {{"class_weights", options.class_weights}});
  check_class_targets(op, logits_, targets_);
  const int64_t rows = logits_.dim(0), classes = logits_.dim(1);
  if (options.class_weights.defined()) ops_detail::check_vector(op, {"class_weights", options.class_weights}, classes);
  PNEUMA_CHECK(options.label_smoothing >= 0 && options.label_smoothing <= 1,
               "cross_entropy: label_smoothing must be in [0, 1], got %g", options.label_smoothing);

  const Tensor logits = logits_.contiguous().detach(), targets = targets_.contiguous().detach();
  const Tensor weights = ops_detail::detach_or_undefined(ops_detail::contiguous_or_undefined(options.class_weights));
  const double smoothing = options.label_smoothing;
  return run_loss(
      op, logits_, logits,
      [=]<class T>() {
        return static_cast<double>(kernels::cpu::cross_entropy_forward<T>(
            rows, classes, logits.data<T>(), targets.data<int32_t>(), ops_detail::data_or_null<T>(weights),
            static_cast<T>(smoothing)));
      },
      [=](float* loss) {
        kernels::cuda::cross_entropy_forward<float>(rows, classes, logits.data<float>(), targets.data<int32_t>(),
                                                    ops_detail::data_or_null<float>(weights),
                                                    static_cast<float>(smoothing), loss);
      },
      [=]<class T>(T grad_loss, T* grad_logits) {
        kernels::cpu::cross_entropy_backward<T>(rows, classes, logits.data<T>(), targets.data<int32_t>(),
                                                ops_detail::data_or_null<T>(weights), static_cast<T>(smoothing),
                                                grad_loss, grad_logits);
      },
      [=](const float* grad_loss, float* grad_logits) {
        kernels::cuda::cross_entropy_backward<float>(rows, classes, logits.data<float>(), targets.data<int32_t>(),
                                                     ops_detail::data_or_null<float>(weights),
                                                     static_cast<float>(smoothing), grad_loss, grad_logits);
      });
}

Tensor bce_with_logits(const Tensor& logits_, const Tensor& targets_, const Tensor& pos_weight_) {
  const char* op = "bce_with_logits";
  ops_detail::check_floating_operands(op, {{"logits", logits_}, {"targets", targets_}}, {{"pos_weight", pos_weight_}});
  const int64_t classes = check_binary_targets(op, logits_, targets_);
  if (pos_weight_.defined()) ops_detail::check_vector(op, {"pos_weight", pos_weight_}, classes);

  const Tensor logits = logits_.contiguous().detach(), targets = targets_.contiguous().detach();
  const Tensor pos_weight = ops_detail::detach_or_undefined(ops_detail::contiguous_or_undefined(pos_weight_));
  const int64_t count = logits.numel();
  return run_loss(
      op, logits_, logits,
      [=]<class T>() {
        return static_cast<double>(kernels::cpu::bce_with_logits_forward<T>(
            count, classes, logits.data<T>(), targets.data<T>(), ops_detail::data_or_null<T>(pos_weight)));
      },
      [=](float* loss) {
        kernels::cuda::bce_with_logits_forward<float>(count, classes, logits.data<float>(), targets.data<float>(),
                                                      ops_detail::data_or_null<float>(pos_weight), loss);
      },
      [=]<class T>(T grad_loss, T* grad_logits) {
        kernels::cpu::bce_with_logits_backward<T>(count, classes, logits.data<T>(), targets.data<T>(),
                                                  ops_detail::data_or_null<T>(pos_weight), grad_loss, grad_logits);
      },
      [=](const float* grad_loss, float* grad_logits) {
        kernels::cuda::bce_with_logits_backward<float>(count, classes, logits.data<float>(), targets.data<float>(),
                                                       ops_detail::data_or_null<float>(pos_weight), grad_loss,
                                                       grad_logits);
      });
}

Tensor binary_focal_loss(const Tensor& logits_, const Tensor& targets_, double alpha, double gamma) {
  const char* op = "binary_focal_loss";
  ops_detail::check_floating_operands(op, {{"logits", logits_}, {"targets", targets_}});
  check_binary_targets(op, logits_, targets_);
  PNEUMA_CHECK(alpha <= 1, "binary_focal_loss: alpha must be <= 1 (negative disables it), got %g", alpha);
  PNEUMA_CHECK(gamma >= 0, "binary_focal_loss: gamma must be >= 0, got %g", gamma);

  const Tensor logits = logits_.contiguous().detach(), targets = targets_.contiguous().detach();
  const int64_t count = logits.numel();
  return run_loss(
      op, logits_, logits,
      [=]<class T>() {
        return static_cast<double>(kernels::cpu::binary_focal_loss_forward<T>(
            count, logits.data<T>(), targets.data<T>(), static_cast<T>(alpha), static_cast<T>(gamma)));
      },
      [=](float* loss) {
        kernels::cuda::binary_focal_loss_forward<float>(count, logits.data<float>(), targets.data<float>(),
                                                        static_cast<float>(alpha), static_cast<float>(gamma), loss);
      },
      [=]<class T>(T grad_loss, T* grad_logits) {
        kernels::cpu::binary_focal_loss_backward<T>(count, logits.data<T>(), targets.data<T>(), static_cast<T>(alpha),
                                                    static_cast<T>(gamma), grad_loss, grad_logits);
      },
      [=](const float* grad_loss, float* grad_logits) {
        kernels::cuda::binary_focal_loss_backward<float>(count, logits.data<float>(), targets.data<float>(),
                                                         static_cast<float>(alpha), static_cast<float>(gamma),
                                                         grad_loss, grad_logits);
      });
}

Tensor focal_loss(const Tensor& logits_, const Tensor& targets_, const Tensor& alpha_, double gamma) {
  const char* op = "focal_loss";
  ops_detail::check_floating_operands(op, {{"logits", logits_}}, {{"alpha", alpha_}});
  check_class_targets(op, logits_, targets_);
  const int64_t rows = logits_.dim(0), classes = logits_.dim(1);
  if (alpha_.defined()) ops_detail::check_vector(op, {"alpha", alpha_}, classes);
  PNEUMA_CHECK(gamma >= 0, "focal_loss: gamma must be >= 0, got %g", gamma);

  const Tensor logits = logits_.contiguous().detach(), targets = targets_.contiguous().detach();
  const Tensor alpha = ops_detail::detach_or_undefined(ops_detail::contiguous_or_undefined(alpha_));
  return run_loss(
      op, logits_, logits,
      [=]<class T>() {
        return static_cast<double>(kernels::cpu::focal_loss_forward<T>(rows, classes, logits.data<T>(),
                                                                       targets.data<int32_t>(),
                                                                       ops_detail::data_or_null<T>(alpha),
                                                                       static_cast<T>(gamma)));
      },
      [=](float* loss) {
        kernels::cuda::focal_loss_forward<float>(rows, classes, logits.data<float>(), targets.data<int32_t>(),
                                                 ops_detail::data_or_null<float>(alpha), static_cast<float>(gamma),
                                                 loss);
      },
      [=]<class T>(T grad_loss, T* grad_logits) {
        kernels::cpu::focal_loss_backward<T>(rows, classes, logits.data<T>(), targets.data<int32_t>(),
                                             ops_detail::data_or_null<T>(alpha), static_cast<T>(gamma), grad_loss,
                                             grad_logits);
      },
      [=](const float* grad_loss, float* grad_logits) {
        kernels::cuda::focal_loss_backward<float>(rows, classes, logits.data<float>(), targets.data<int32_t>(),
                                                  ops_detail::data_or_null<float>(alpha), static_cast<float>(gamma),
                                                  grad_loss, grad_logits);
      });
}

}  // namespace pneuma
