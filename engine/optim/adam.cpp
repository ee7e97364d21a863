#include "engine/optim/adam.h"

#include "kernels/optim.h"
#if PNEUMA_WITH_CUDA
#include "kernels/cuda/device_memory.h"
#endif

namespace pneuma::optim {

Adam::Adam(std::vector<ParameterGroup> groups, const AdamOptions& options) : Adam(std::move(groups), options, false) {}

Adam::Adam(std::vector<ParameterGroup> groups, const AdamOptions& options, bool decoupled_weight_decay)
    : Optimizer(std::move(groups), options.learning_rate, options.weight_decay),
      options_(options),
      decoupled_weight_decay_(decoupled_weight_decay) {
  PNEUMA_CHECK(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1,
               "%s: betas (%g, %g) must be in [0, 1)", type_name().c_str(), options.beta1, options.beta2);
  PNEUMA_CHECK(options.eps >= 0, "%s: invalid eps %g", type_name().c_str(), options.eps);
}

kernels::AdamHyper Adam::hyper(double learning_rate, double weight_decay, int64_t step) const {
  kernels::AdamHyper hyper;
  hyper.lr = learning_rate;
  hyper.beta1 = options_.beta1;
  hyper.beta2 = options_.beta2;
  hyper.eps = options_.eps;
  hyper.weight_decay = weight_decay;
  hyper.decoupled_weight_decay = decoupled_weight_decay_;
  hyper.step = step;
  return hyper;
}

void Adam::create_buffers(const Tensor& parameter, std::map<std::string, Tensor>& buffers) {
  for (const char* name : {"exp_avg", "exp_avg_sq"})
    if (!buffers.count(name))
      buffers.emplace(name, Tensor::zeros(parameter.shape(), parameter.dtype(), parameter.device()));
}

void Adam::update(Tensor& parameter, const Tensor& grad, double learning_rate, double weight_decay, int64_t step,
                  std::map<std::string, Tensor>& buffers) {
  const kernels::AdamHyper h = hyper(learning_rate, weight_decay, step);
  create_buffers(parameter, buffers);
  Tensor& exp_avg = buffers.at("exp_avg");
  Tensor& exp_avg_sq = buffers.at("exp_avg_sq");
  dispatch_floating(parameter.dtype(), type_name().c_str(), [&]<class T>() {
    kernels::cpu::adam_update<T>(parameter.numel(), h, parameter.data<T>(), grad.data<T>(), exp_avg.data<T>(),
                                 exp_avg_sq.data<T>());
  });
}

void Adam::update_on_cuda(std::vector<ParameterUpdate>& updates) {
#if PNEUMA_WITH_CUDA
  std::vector<kernels::cuda::AdamTensor<float>> tensors;
  tensors.reserve(updates.size());
  for (ParameterUpdate& u : updates) {
    create_buffers(u.parameter, *u.buffers);
    tensors.push_back({u.parameter.data<float>(), u.grad.data<float>(), u.buffers->at("exp_avg").data<float>(),
                       u.buffers->at("exp_avg_sq").data<float>(), u.parameter.numel(),
                       hyper(u.learning_rate, u.weight_decay, u.step)});
  }
  kernels::cuda::set_device(updates.front().parameter.device().index);
  kernels::cuda::adam_update_many<float>(tensors.data(), tensors.size());
#else
  PNEUMA_FAIL("%s: CUDA parameters in a build without CUDA", type_name().c_str());
#endif
}

}  // namespace pneuma::optim
