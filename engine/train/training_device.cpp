// Choosing the training device and finding a model's (see training_device.h).
#include "engine/train/training_device.h"

#include "kernels/error.h"

namespace pneuma::train {

Device training_device(const std::string& name) {
  const Device device = device_from_name(name);
  if (device.is_cpu()) return device;
  PNEUMA_CHECK(cuda_built(), "--device %s: this build has no CUDA support (rebuild with -DPNEUMA_CUDA=ON)",
               name.c_str());
  const int count = cuda_device_count();
  PNEUMA_CHECK(count > 0, "--device %s: no CUDA device found", name.c_str());
  PNEUMA_CHECK(device.index < count, "--device %s: no CUDA device %d (this machine has %d)", name.c_str(),
               device.index, count);
  return device;
}

Device module_device(const nn::Module& module) {
  const std::vector<nn::NamedTensor> tensors = module.named_tensors();
  if (tensors.empty()) return Device::cpu();
  const Device device = tensors.front().second.device();
  for (const auto& [name, tensor] : tensors)
    PNEUMA_CHECK(tensor.device() == device, "the model is spread over devices: '%s' is on %s, '%s' on %s",
                 tensors.front().first.c_str(), device.name().c_str(), name.c_str(), tensor.device().name().c_str());
  return device;
}

}  // namespace pneuma::train
