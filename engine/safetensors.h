// Our reader and writer of the safetensors format (https://github.com/huggingface/safetensors):
//   u64 little-endian header length N · N bytes of JSON header · packed little-endian tensor data.
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
// data section) and may hold "__metadata__", a string → string map (checkpoints keep the architecture, its config,
// class names, normalisation and padding mode there).
//
// The reader trusts nothing in the file: every length, offset and shape is checked against the file size before a
// byte is read, and each problem is one pneuma::Error line naming the file, the tensor and the offset.
// The writer is atomic: it writes `<path>.tmp-<pid>`, fsyncs and renames it over `path`, so a crash or a full disk
// never leaves a half-written file at `path`.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace pneuma {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

struct SafetensorsFile {
  std::string path;                             // where it was read from (for messages)
  std::vector<NamedTensor> tensors;             // in header order
  std::map<std::string, std::string> metadata;  // the "__metadata__" map (empty when absent)

  bool contains(const std::string& name) const;
  const Tensor& at(const std::string& name) const;  // throws naming the tensor when absent
};

// Reads every tensor into host memory (f32, f64, bf16, f16, i32, i64, u8; other safetensors dtypes are rejected
// by name).
SafetensorsFile read_safetensors(const std::string& path);

// Writes `tensors` (any device, any strides: each is copied contiguous to the host) in the given order.
// Names must be unique, non-empty and not "__metadata__".
void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// The safetensors spelling of a dtype ("F32", "BF16", ...).
const char* safetensors_dtype_name(DType dtype);

}  // namespace pneuma
