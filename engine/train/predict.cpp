// Inference over a batch source (see predict.h).
#include "engine/train/predict.h"

#include <cstring>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/train/device_batch_source.h"
#include "engine/train/training_device.h"
#include "kernels/error.h"

namespace pneuma::train {
namespace {

// Restores the model's train/eval mode when the pass ends, also by an exception.
class EvalModeScope {
 public:
  explicit EvalModeScope(nn::Module& model) : model_(model), was_training_(model.is_training()) { model.eval(); }
  ~EvalModeScope() { model_.train(was_training_); }

 private:
  nn::Module& model_;
  bool was_training_;
};

}  // namespace

Tensor flip_horizontally(const Tensor& images) {
  PNEUMA_CHECK(images.rank() == 4 && images.dtype() == DType::f32, "flip: images must be f32 [N, H, W, C], got %s",
               images.describe().c_str());
  if (!images.device().is_cpu()) return flip_horizontally(images.to(Device::cpu())).to(images.device());
  const Tensor source = images.contiguous();
  Tensor flipped = Tensor::empty(source.shape());
  const int64_t rows = source.dim(0) * source.dim(1), width = source.dim(2), channels = source.dim(3);
  const float* in = source.data<float>();
  float* out = flipped.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t x = 0; x < width; ++x)
      std::memcpy(out + (r * width + x) * channels, in + (r * width + width - 1 - x) * channels,
                  channels * sizeof(float));
  return flipped;
}

Predictions predict(nn::Module& model, BatchSource& source, const PredictOptions& options) {
  EvalModeScope eval_mode(model);
  NoGradGuard no_grad;
  std::vector<Tensor> probabilities;
  std::vector<int32_t> labels;
  Predictions result;
  double loss_sum = 0;
  int64_t count = 0;
  DeviceBatchSource on_device(source, module_device(model));
  on_device.start_epoch(0, 0);
  TrainBatch batch;
  while (on_device.next(batch)) {
    const Tensor logits = model(batch.images);
    PNEUMA_CHECK(logits.rank() == 2 && logits.dim(0) == batch.images.dim(0),
                 "the model returned %s for a batch of %lld images", logits.describe().c_str(),
                 static_cast<long long>(batch.images.dim(0)));
    Tensor p = class_probabilities(logits);
    if (options.tta_flip) p = scale(add(p, class_probabilities(model(flip_horizontally(batch.images)))), 0.5);
    if (options.loss) loss_sum += compute_loss(logits, batch.labels, *options.loss).item() * logits.dim(0);
    count += logits.dim(0);
    probabilities.push_back(p.to(Device::cpu()));
    const std::vector<int32_t> batch_labels = batch.labels.to_vector<int32_t>();
    labels.insert(labels.end(), batch_labels.begin(), batch_labels.end());
    result.sample_indices.insert(result.sample_indices.end(), batch.sample_indices.begin(),
                                 batch.sample_indices.end());
  }
  PNEUMA_CHECK(count > 0, "no images to evaluate");
  result.probabilities = concat(probabilities, 0);
  result.labels = Tensor::from_vector(labels, {count});
  result.loss = options.loss ? loss_sum / static_cast<double>(count) : 0.0;
  return result;
}

}  // namespace pneuma::train
