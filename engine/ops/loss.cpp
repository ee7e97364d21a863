// Classification losses (mean reduction, scalar result). Only the logits receive a gradient: targets, class
// weights, pos_weight and alpha are constants.
#include "engine/ops.h"
#include "engine/ops/op_support.h"
#include "kernels/loss.h"

namespace pneuma {
namespace {

// logits [rows, classes] and i32 targets [rows], as cross_entropy and focal_loss take them.
void check_class_targets(const char* op, const Tensor& logits, const Tensor& targets) {
  ops_detail::check_rank(op, {"logits", logits}, 2);
  PNEUMA_CHECK(targets.defined(), "%s: targets is undefined", op);
  PNEUMA_CHECK(targets.dtype() == DType::i32, "%s: targets must be i32 class indices, got %s", op,
               targets.describe().c_str());
  ops_detail::require_cpu_kernel(op, targets);
  PNEUMA_CHECK(targets.rank() == 1 && targets.dim(0) == logits.dim(0),
               "%s: targets %s must be [rows] for logits %s", op, targets.describe().c_str(),
               logits.describe().c_str());
  PNEUMA_CHECK(logits.dim(0) > 0 && logits.dim(1) > 0, "%s: logits %s is empty", op, logits.describe().c_str());
}

// Binary losses: logits and floating targets of one shape; `classes` = size of the last axis (1 for a scalar).
int64_t check_binary_targets(const char* op, const Tensor& logits, const Tensor& targets) {
  PNEUMA_CHECK(targets.shape() == logits.shape(), "%s: targets %s must have the shape of logits %s", op,
               targets.describe().c_str(), logits.describe().c_str());
  PNEUMA_CHECK(logits.numel() > 0, "%s: logits %s is empty", op, logits.describe().c_str());
  return logits.rank() == 0 ? 1 : logits.dim(-1);
}

// The scalar loss tensor, recording a backward that asks `write_gradient(grad_loss, grad_logits)` for d(loss)/d(logits).
template <class WriteGradient>
Tensor record_loss(const char* op, double value, const Tensor& logits_, WriteGradient write_gradient) {
  Tensor output = Tensor::full({}, value, logits_.dtype(), logits_.device());
  const Shape logits_shape = logits_.shape();
  return record_operation(op, output, {logits_},
                          [logits_shape, write_gradient](const Tensor& grad_output, const std::vector<bool>&) {
                            Tensor grad_logits = Tensor::empty(logits_shape, grad_output.dtype());
                            write_gradient(ops_detail::scalar_gradient(grad_output), grad_logits);
                            return std::vector<Tensor>{grad_logits};
                          });
}

}  // namespace

Tensor cross_entropy(const Tensor& logits_, const Tensor& targets_, const CrossEntropyOptions& options) {
  const char* op = "cross_entropy";
  const DType dtype =
      ops_detail::check_floating_operands(op, {{"logits", logits_}}, {{"class_weights", options.class_weights}});
  check_class_targets(op, logits_, targets_);
  const int64_t rows = logits_.dim(0), classes = logits_.dim(1);
  if (options.class_weights.defined()) ops_detail::check_vector(op, {"class_weights", options.class_weights}, classes);
  PNEUMA_CHECK(options.label_smoothing >= 0 && options.label_smoothing <= 1,
               "cross_entropy: label_smoothing must be in [0, 1], got %g", options.label_smoothing);

  const Tensor logits = logits_.contiguous().detach(), targets = targets_.contiguous().detach();
  const Tensor weights = ops_detail::detach_or_undefined(ops_detail::contiguous_or_undefined(options.class_weights));
  const double smoothing = options.label_smoothing;
  const double value = dispatch_floating(dtype, op, [&]<class T>() {
    return static_cast<double>(kernels::cpu::cross_entropy_forward<T>(
        rows, classes, logits.data<T>(), targets.data<int32_t>(), ops_detail::data_or_null<T>(weights),
        static_cast<T>(smoothing)));
  });
  return record_loss(op, value, logits_, [=](double grad_loss, Tensor& grad_logits) {
    dispatch_floating(grad_logits.dtype(), "cross_entropy backward", [&]<class T>() {
      kernels::cpu::cross_entropy_backward<T>(rows, classes, logits.data<T>(), targets.data<int32_t>(),
                                              ops_detail::data_or_null<T>(weights), static_cast<T>(smoothing),
                                              static_cast<T>(grad_loss), grad_logits.data<T>());
    });
  });
}

Tensor bce_with_logits(const Tensor& logits_, const Tensor& targets_, const Tensor& pos_weight_) {
  const char* op = "bce_with_logits";
  const DType dtype = ops_detail::check_floating_operands(op, {{"logits", logits_}, {"targets", targets_}},
                                                          {{"pos_weight", pos_weight_}});
  const int64_t classes = check_binary_targets(op, logits_, targets_);
  if (pos_weight_.defined()) ops_detail::check_vector(op, {"pos_weight", pos_weight_}, classes);

  const Tensor logits = logits_.contiguous().detach(), targets = targets_.contiguous().detach();
  const Tensor pos_weight = ops_detail::detach_or_undefined(ops_detail::contiguous_or_undefined(pos_weight_));
  const int64_t count = logits.numel();
  const double value = dispatch_floating(dtype, op, [&]<class T>() {
    return static_cast<double>(kernels::cpu::bce_with_logits_forward<T>(
        count, classes, logits.data<T>(), targets.data<T>(), ops_detail::data_or_null<T>(pos_weight)));
  });
  return record_loss(op, value, logits_, [=](double grad_loss, Tensor& grad_logits) {
    dispatch_floating(grad_logits.dtype(), "bce_with_logits backward", [&]<class T>() {
      kernels::cpu::bce_with_logits_backward<T>(count, classes, logits.data<T>(), targets.data<T>(),
                                                ops_detail::data_or_null<T>(pos_weight), static_cast<T>(grad_loss),
                                                grad_logits.data<T>());
    });
  });
}

Tensor binary_focal_loss(const Tensor& logits_, const Tensor& targets_, double alpha, double gamma) {
  const char* op = "binary_focal_loss";
  const DType dtype = ops_detail::check_floating_operands(op, {{"logits", logits_}, {"targets", targets_}});
  check_binary_targets(op, logits_, targets_);
  PNEUMA_CHECK(alpha <= 1, "binary_focal_loss: alpha must be <= 1 (negative disables it), got %g", alpha);
  PNEUMA_CHECK(gamma >= 0, "binary_focal_loss: gamma must be >= 0, got %g", gamma);

  const Tensor logits = logits_.contiguous().detach(), targets = targets_.contiguous().detach();
  const int64_t count = logits.numel();
  const double value = dispatch_floating(dtype, op, [&]<class T>() {
    return static_cast<double>(kernels::cpu::binary_focal_loss_forward<T>(
        count, logits.data<T>(), targets.data<T>(), static_cast<T>(alpha), static_cast<T>(gamma)));
  });
  return record_loss(op, value, logits_, [=](double grad_loss, Tensor& grad_logits) {
    dispatch_floating(grad_logits.dtype(), "binary_focal_loss backward", [&]<class T>() {
      kernels::cpu::binary_focal_loss_backward<T>(count, logits.data<T>(), targets.data<T>(), static_cast<T>(alpha),
                                                  static_cast<T>(gamma), static_cast<T>(grad_loss),
                                                  grad_logits.data<T>());
    });
  });
}

Tensor focal_loss(const Tensor& logits_, const Tensor& targets_, const Tensor& alpha_, double gamma) {
  const char* op = "focal_loss";
  const DType dtype = ops_detail::check_floating_operands(op, {{"logits", logits_}}, {{"alpha", alpha_}});
  check_class_targets(op, logits_, targets_);
  const int64_t rows = logits_.dim(0), classes = logits_.dim(1);
  if (alpha_.defined()) ops_detail::check_vector(op, {"alpha", alpha_}, classes);
  PNEUMA_CHECK(gamma >= 0, "focal_loss: gamma must be >= 0, got %g", gamma);

  const Tensor logits = logits_.contiguous().detach(), targets = targets_.contiguous().detach();
  const Tensor alpha = ops_detail::detach_or_undefined(ops_detail::contiguous_or_undefined(alpha_));
  const double value = dispatch_floating(dtype, op, [&]<class T>() {
    return static_cast<double>(kernels::cpu::focal_loss_forward<T>(rows, classes, logits.data<T>(),
                                                                   targets.data<int32_t>(),
                                                                   ops_detail::data_or_null<T>(alpha),
                                                                   static_cast<T>(gamma)));
  });
  return record_loss(op, value, logits_, [=](double grad_loss, Tensor& grad_logits) {
    dispatch_floating(grad_logits.dtype(), "focal_loss backward", [&]<class T>() {
      kernels::cpu::focal_loss_backward<T>(rows, classes, logits.data<T>(), targets.data<int32_t>(),
                                           ops_detail::data_or_null<T>(alpha), static_cast<T>(gamma),
                                           static_cast<T>(grad_loss), grad_logits.data<T>());
    });
  });
}

}  // namespace pneuma
