#include "engine/optim/clip_grad_norm.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace pneuma::optim {

double gradient_norm(const std::vector<Tensor>& parameters) {
  double sum = 0;
  for (const Tensor& parameter : parameters)
    if (parameter.grad().defined()) sum += sum_of_squares(parameter.grad());
  return std::sqrt(sum);
}

double clip_grad_norm(const std::vector<Tensor>& parameters, double max_norm) {
  PNEUMA_CHECK(max_norm > 0, "clip_grad_norm: max_norm must be positive, got %g", max_norm);
  NoGradGuard no_grad;
  const double norm = gradient_norm(parameters);
  const double coefficient = max_norm / (norm + 1e-6);
  if (!std::isfinite(norm) || coefficient >= 1.0) return norm;
  for (Tensor parameter : parameters)
    if (parameter.grad().defined()) scale_in_place(parameter.mutable_grad(), coefficient);
  return norm;
}

}  // namespace pneuma::optim
