// The running average of a model's weights (see weight_ema.h).
#include "engine/train/weight_ema.h"

#include <algorithm>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "kernels/error.h"

namespace pneuma::train {
namespace {

void check_matches(const std::vector<nn::NamedTensor>& averages, const std::vector<nn::NamedTensor>& tensors) {
  PNEUMA_CHECK(averages.size() == tensors.size(), "weight EMA: the model has %zu tensors, the average %zu",
               tensors.size(), averages.size());
  for (size_t i = 0; i < averages.size(); ++i) {
    PNEUMA_CHECK(averages[i].first == tensors[i].first && averages[i].second.shape() == tensors[i].second.shape(),
                 "weight EMA: model tensor '%s' does not match the average '%s'", tensors[i].first.c_str(),
                 averages[i].first.c_str());
    PNEUMA_CHECK(averages[i].second.device() == tensors[i].second.device(),
                 "weight EMA: model tensor '%s' is on %s, its average on %s (move the model before creating the EMA)",
                 tensors[i].first.c_str(), tensors[i].second.device().name().c_str(),
                 averages[i].second.device().name().c_str());
  }
}

}  // namespace

WeightEma::WeightEma(const nn::Module& model, double decay) : decay_(decay) {
  PNEUMA_CHECK(decay > 0 && decay < 1, "weight EMA: decay must be in (0, 1), got %g", decay);
  for (const auto& [name, tensor] : model.named_tensors()) averages_.emplace_back(name, tensor.detach().clone());
}

void WeightEma::update(const nn::Module& model) {
  const std::vector<nn::NamedTensor> tensors = model.named_tensors();
  check_matches(averages_, tensors);
  const double d = std::min(decay_, (1.0 + updates_) / (10.0 + updates_));
  ++updates_;
  for (size_t i = 0; i < tensors.size(); ++i) {
    Tensor& average = averages_[i].second;
    const Tensor source = tensors[i].second.contiguous();
    if (average.dtype() != DType::f32) {  // integer buffers are copied, not averaged
      average.copy_from(source);
      continue;
    }
    if (!average.device().is_cpu()) {  // on the device: average·d, then += (1 − d)·weight, by the in-place ops
      NoGradGuard no_grad;
      scale_in_place(average, static_cast<float>(d));
      add_in_place(average, scale(source.detach(), static_cast<float>(1.0 - d)));
      continue;
    }
    float* a = average.data<float>();
    const float* w = source.data<float>();
    const float keep = static_cast<float>(d), take = static_cast<float>(1.0 - d);
    for (int64_t k = 0, n = average.numel(); k < n; ++k) a[k] = keep * a[k] + take * w[k];
  }
}

void WeightEma::swap_with(nn::Module& model) {
  const std::vector<nn::NamedTensor> tensors = model.named_tensors();
  check_matches(averages_, tensors);
  for (size_t i = 0; i < tensors.size(); ++i) {
    Tensor weights = tensors[i].second;
    const Tensor saved = weights.detach().clone();
    weights.copy_from(averages_[i].second);
    averages_[i].second.copy_from(saved);
  }
}

void WeightEma::load_average(const std::string& name, const Tensor& tensor) {
  auto found = std::find_if(averages_.begin(), averages_.end(), [&](const auto& entry) { return entry.first == name; });
  PNEUMA_CHECK(found != averages_.end(), "weight EMA: the checkpoint has an average for '%s', which the model lacks",
               name.c_str());
  PNEUMA_CHECK(found->second.shape() == tensor.shape(), "weight EMA: average '%s' has shape %s, the model %s",
               name.c_str(), shape_string(tensor.shape()).c_str(), shape_string(found->second.shape()).c_str());
  found->second.copy_from(tensor);
}

}  // namespace pneuma::train
