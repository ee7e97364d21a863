#include "engine/optim/sgd.h"

#include "kernels/optim.h"
#if PNEUMA_WITH_CUDA
#include "kernels/cuda/device_memory.h"
#endif

namespace pneuma::optim {

Sgd::Sgd(std::vector<ParameterGroup> groups, const SgdOptions& options)
    : Optimizer(std::move(groups), options.learning_rate, options.weight_decay), options_(options) {
  PNEUMA_CHECK(options.momentum >= 0, "Sgd: invalid momentum %g", options.momentum);
  PNEUMA_CHECK(!options.nesterov || (options.momentum > 0 && options.dampening == 0),
               "Sgd: Nesterov momentum needs momentum > 0 and zero dampening");
}

kernels::SgdHyper Sgd::hyper(double learning_rate, double weight_decay) const {
  kernels::SgdHyper hyper;
  hyper.lr = learning_rate;
  hyper.momentum = options_.momentum;
  hyper.dampening = options_.dampening;
  hyper.weight_decay = weight_decay;
  hyper.nesterov = options_.nesterov;
  return hyper;
}

Tensor Sgd::momentum_buffer(const Tensor& parameter, std::map<std::string, Tensor>& buffers, bool& first_step) const {
  first_step = false;
  if (options_.momentum == 0) return Tensor();
  auto found = buffers.find("momentum_buffer");
  first_step = found == buffers.end();
  if (first_step)
    found = buffers.emplace("momentum_buffer", Tensor::zeros(parameter.shape(), parameter.dtype(), parameter.device()))
                .first;
  return found->second;
}

void Sgd::update(Tensor& parameter, const Tensor& grad, double learning_rate, double weight_decay, int64_t,
                 std::map<std::string, Tensor>& buffers) {
  const kernels::SgdHyper h = hyper(learning_rate, weight_decay);
  bool first_step = false;
  Tensor momentum = momentum_buffer(parameter, buffers, first_step);
  dispatch_floating(parameter.dtype(), "Sgd", [&]<class T>() {
    kernels::cpu::sgd_update<T>(parameter.numel(), h, first_step, parameter.data<T>(), grad.data<T>(),
                                momentum.defined() ? momentum.data<T>() : nullptr);
  });
}

void Sgd::update_on_cuda(std::vector<ParameterUpdate>& updates) {
#if PNEUMA_WITH_CUDA
  std::vector<kernels::cuda::SgdTensor<float>> tensors;
  tensors.reserve(updates.size());
  for (ParameterUpdate& u : updates) {
    bool first_step = false;
    Tensor momentum = momentum_buffer(u.parameter, *u.buffers, first_step);
    tensors.push_back({u.parameter.data<float>(), u.grad.data<float>(),
                       momentum.defined() ? momentum.data<float>() : nullptr, u.parameter.numel(),
                       hyper(u.learning_rate, u.weight_decay), first_step});
  }
  kernels::cuda::set_device(updates.front().parameter.device().index);
  kernels::cuda::sgd_update_many<float>(tensors.data(), tensors.size());
#else
  PNEUMA_FAIL("Sgd: CUDA parameters in a build without CUDA");
#endif
}

}  // namespace pneuma::optim
