// The training losses, dispatched on the head's width (see loss.h).
#include "engine/train/loss.h"

#include "engine/autograd.h"
#include "engine/ops.h"
#include "kernels/error.h"

namespace pneuma::train {
namespace {

// The class weights as a tensor of the logits' dtype on their device (undefined when there are none).
Tensor weights_tensor(const std::vector<double>& weights, int64_t classes, const Tensor& logits) {
  if (weights.empty()) return Tensor();
  PNEUMA_CHECK(static_cast<int64_t>(weights.size()) == classes, "loss: %zu class weights given for %lld classes",
               weights.size(), static_cast<long long>(classes));
  for (double w : weights) PNEUMA_CHECK(w >= 0, "loss: class weights must be non-negative, got %g", w);
  std::vector<float> values(weights.begin(), weights.end());
  return Tensor::from_vector(values, {classes}).to(logits.dtype()).to(logits.device());
}

// Labels i32 [N] → floating targets [N, 1] for a 1-output head, smoothed toward 1/2, like the logits (dtype, device).
Tensor binary_targets(const Tensor& labels, double smoothing, const Tensor& logits) {
  const std::vector<int32_t> values = labels.to_vector<int32_t>();
  std::vector<float> targets(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    PNEUMA_CHECK(values[i] == 0 || values[i] == 1, "loss: a 1-output (sigmoid) head needs labels 0 or 1, got %d",
                 values[i]);
    targets[i] = static_cast<float>(values[i] * (1.0 - smoothing) + 0.5 * smoothing);
  }
  const Tensor host = Tensor::from_vector(targets, {static_cast<int64_t>(targets.size()), 1});
  return host.to(logits.dtype()).to(logits.device());
}

}  // namespace

LossKind parse_loss_kind(const std::string& name) {
  if (name == "cross-entropy" || name == "cross_entropy" || name == "bce") return LossKind::cross_entropy;
  if (name == "focal") return LossKind::focal;
  PNEUMA_FAIL("unknown loss '%s' (cross-entropy, bce, focal)", name.c_str());
}

const char* loss_kind_name(LossKind kind) { return kind == LossKind::focal ? "focal" : "cross-entropy"; }

Tensor compute_loss(const Tensor& logits, const Tensor& labels_, const LossOptions& options) {
  PNEUMA_CHECK(logits.rank() == 2, "loss: logits must be [N, K], got %s", logits.describe().c_str());
  const Tensor labels = labels_.to(logits.device());  // itself when it is there already
  PNEUMA_CHECK(options.label_smoothing >= 0 && options.label_smoothing < 1,
               "loss: label smoothing must be in [0, 1), got %g", options.label_smoothing);
  const int64_t outputs = logits.dim(1);
  if (outputs == 1) {
    if (options.kind == LossKind::focal) {
      PNEUMA_CHECK(options.class_weights.empty(),
                   "loss: the binary focal loss takes --focal-alpha, not class weights");
      return binary_focal_loss(logits, binary_targets(labels, options.label_smoothing, logits),
                               options.focal_alpha, options.focal_gamma);
    }
    if (options.class_weights.empty())
      return bce_with_logits(logits, binary_targets(labels, options.label_smoothing, logits));
    const Tensor zeros = Tensor::zeros(logits.shape(), logits.dtype(), logits.device());
    CrossEntropyOptions pair;
    pair.class_weights = weights_tensor(options.class_weights, 2, logits);
    pair.label_smoothing = options.label_smoothing;
    return cross_entropy(concat({zeros, logits}, 1), labels, pair);
  }
  const Tensor weights = weights_tensor(options.class_weights, outputs, logits);
  if (options.kind == LossKind::focal) {
    PNEUMA_CHECK(options.label_smoothing == 0, "loss: label smoothing is not defined for the focal loss");
    return focal_loss(logits, labels, weights, options.focal_gamma);
  }
  CrossEntropyOptions ce;
  ce.class_weights = weights;
  ce.label_smoothing = options.label_smoothing;
  return cross_entropy(logits, labels, ce);
}

Tensor class_probabilities(const Tensor& logits) {
  NoGradGuard no_grad;
  PNEUMA_CHECK(logits.rank() == 2 && logits.dim(1) >= 1, "class probabilities: logits must be [N, K], got %s",
               logits.describe().c_str());
  return logits.dim(1) == 1 ? sigmoid(logits) : softmax(logits);
}

std::vector<int32_t> predicted_classes(const Tensor& probabilities) {
  const int64_t rows = probabilities.dim(0), columns = probabilities.dim(1);
  const std::vector<float> p = probabilities.to(DType::f32).to_vector<float>();
  std::vector<int32_t> predicted(rows);
  for (int64_t r = 0; r < rows; ++r) {
    if (columns == 1) {
      predicted[r] = p[r] > 0.5f ? 1 : 0;
      continue;
    }
    int32_t best = 0;
    for (int64_t c = 1; c < columns; ++c)
      if (p[r * columns + c] > p[r * columns + best]) best = static_cast<int32_t>(c);
    predicted[r] = best;
  }
  return predicted;
}

}  // namespace pneuma::train
