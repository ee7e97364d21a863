// The training losses of `pneuma train`, chosen by name, and the class probabilities that go with them.
//
// A model's head has either K ≥ 2 outputs (softmax) or 1 output (sigmoid: the probability of class 1 of a binary
// problem); the loss follows the head:
//   cross_entropy  K outputs: softmax cross-entropy with optional class weights (PyTorch's weighted mean) and
//                  label smoothing.  1 output: binary cross-entropy with logits; smoothing moves the targets to
//                  y·(1 − s) + s/2 (Keras' BinaryCrossentropy); with class weights it is computed as the softmax
//                  cross-entropy of the logit pair (0, z), which is the same function with per-class weights.
//   focal          K outputs: multi-class focal loss, α = the class weights when given.  1 output: binary focal
//                  loss (torchvision's sigmoid_focal_loss) with focal_alpha (< 0 disables α).
#pragma once
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace pneuma::train {

enum class LossKind { cross_entropy, focal };

struct LossOptions {
  LossKind kind = LossKind::cross_entropy;
  std::vector<double> class_weights;  // empty, or one per class (2 for a 1-output head)
  double label_smoothing = 0.0;
  double focal_alpha = 0.25;  // binary focal loss only; < 0 disables it
  double focal_gamma = 2.0;
};

LossKind parse_loss_kind(const std::string& name);  // "cross-entropy" | "bce" (the same, by head) | "focal"
const char* loss_kind_name(LossKind kind);

// logits [N, K] (K ≥ 2) or [N, 1]; labels i32 [N] in [0, K) (in {0, 1} for a 1-output head), on any device (moved
// to the logits' when elsewhere). Scalar result on the logits' device.
Tensor compute_loss(const Tensor& logits, const Tensor& labels, const LossOptions& options);

// Softmax probabilities [N, K], or for a 1-output head the sigmoid probabilities [N, 1]. Not recorded.
Tensor class_probabilities(const Tensor& logits);

// The predicted class of each row of class_probabilities(): the arg-max, ties to the lowest index (so a 1-output
// head predicts 1 only for p > 0.5), as engine/metrics counts it.
std::vector<int32_t> predicted_classes(const Tensor& probabilities);

}  // namespace pneuma::train
