// TensorArchive: the tensors of a checkpoint file, whatever its format, as named host tensors in file order.
// read_tensor_archive() recognises the format from the file's content (not its name):
//   PyTorch torch.save zip archive (.pth/.pt)   read_torch_checkpoint      weights_import/torch_checkpoint.h
//   safetensors                                read_safetensors           engine/safetensors.h
//   Keras 2 HDF5 weights (.h5)                 read_keras_h5              weights_import/keras_h5.h
//   NumPy .npz                                 read_npz                   weights_import/npz.h
// Each reader trusts nothing in the file and fails with one pneuma::Error line naming the file and the tensor or
// byte offset at fault.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "engine/safetensors.h"

namespace pneuma::weights_import {

struct TensorArchive {
  std::string path;
  std::vector<NamedTensor> tensors;             // contiguous host tensors, in the file's order
  std::map<std::string, std::string> metadata;  // "format" (torch, safetensors, keras_h5, npz) and format details

  bool contains(const std::string& name) const;
  const Tensor& at(const std::string& name) const;  // throws naming the tensor and the file
};

enum class ArchiveFormat { torch_zip, safetensors, keras_h5, npz };
const char* archive_format_name(ArchiveFormat format);

// Sniffs the first bytes (and, for zip files, the entry names). Legacy (pre-zip) torch.save files and other
// pickles are a clear error saying so.
ArchiveFormat detect_archive_format(const std::string& path);
TensorArchive read_tensor_archive(const std::string& path);

}  // namespace pneuma::weights_import
