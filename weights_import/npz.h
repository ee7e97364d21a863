// Reader for NumPy .npz files (np.savez / np.savez_compressed): a zip archive of .npy arrays, each named by its
// entry without ".npy". The .npy header (format versions 1.0, 2.0 and 3.0) is parsed as the small Python dict
// literal it is ({'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }); supported dtypes are <f4, <f8, <f2,
// <i8, <i4, |u1 and |b1 (as u8), little- or big-endian; Fortran-ordered arrays are transposed to C order.
#pragma once
#include <string>

#include "weights_import/tensor_archive.h"

namespace pneuma::weights_import {

TensorArchive read_npz(const std::string& path);

// One .npy file's bytes → a tensor; `label` names it in messages.
Tensor parse_npy(const std::string& bytes, const std::string& label);

}  // namespace pneuma::weights_import
