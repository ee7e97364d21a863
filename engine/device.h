// Where a tensor's memory lives.
#pragma once
#include <string>

namespace pneuma {

enum class DeviceType : uint8_t { cpu, cuda };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;

  static Device cpu() { return {DeviceType::cpu, 0}; }
  static Device cuda(int index = 0) { return {DeviceType::cuda, index}; }
  bool is_cpu() const { return type == DeviceType::cpu; }
  bool is_cuda() const { return type == DeviceType::cuda; }
  bool operator==(const Device&) const = default;
  std::string name() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
};

Device device_from_name(const std::string& name);  // "cpu", "cuda", "cuda:1"; throws on unknown
bool cuda_built();                                  // compiled with the CUDA backend
int cuda_device_count();                            // 0 without CUDA or without a GPU

}  // namespace pneuma
