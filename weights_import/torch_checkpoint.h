// Reader for PyTorch checkpoints written by torch.save (PyTorch 1.6 and later): a zip archive holding
// <prefix>/data.pkl (the pickled object), <prefix>/data/<key> (one raw little-endian storage per key) and, from
// PyTorch 2.x, <prefix>/byteorder. The pickle runs on our own interpreter (pickle_machine.h), which understands the
// objects a state_dict is made of and nothing else:
//   dict / collections.OrderedDict, str keys, ints, floats, bools, None, tuples and lists;
//   tensors from torch._utils._rebuild_tensor_v2 / _rebuild_tensor_v3 (dtype-carrying, untyped storage) /
//   _rebuild_parameter(_with_state), with storage offsets and any strides (made contiguous here);
//   storages torch.{Float,Double,Half,BFloat16,Long,Int,Byte,Bool}Storage and torch.UntypedStorage.
// Supported dtypes: f32, f64, f16, bf16, i64, i32, u8 and bool (returned as u8); others are an error naming the
// tensor. The pickled object may be the state_dict itself or a dict holding it under "state_dict" or "model"
// (training checkpoints); values that are not tensors (epochs, optimizer settings) are skipped.
#pragma once
#include <string>

#include "weights_import/tensor_archive.h"

namespace pneuma::weights_import {

TensorArchive read_torch_checkpoint(const std::string& path);

}  // namespace pneuma::weights_import
