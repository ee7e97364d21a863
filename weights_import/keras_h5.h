// Reader for Keras 2 HDF5 weight files, through the libhdf5 C API. Supported layouts (tf.keras / Keras 2.x):
//   model.save_weights("w.h5"):  root attribute `layer_names`; each layer group `<layer>` has attribute
//                                `weight_names` and holds the datasets under those names
//                                (e.g. `block_1_expand/block_1_expand/kernel:0`);
//   model.save("m.h5"):          the same under the group `model_weights` (root attributes `keras_version`,
//                                `backend`, `model_config` beside it; `optimizer_weights` is ignored).
// Attributes split by Keras into `layer_names0`, `layer_names1`, ... (for very long lists) are joined. Names may be
// fixed-length or variable-length strings. Each tensor is named by its weight name without the ":0" suffix
// (`block_1_expand/kernel`; a nested model's weights keep their full path). Values are read as stored, in Keras'
// layouts (conv kernels HWIO, depthwise [H, W, C, 1], dense [in, out]); float16/32 become f32, float64 f64.
// Not supported, each with a clear error: Keras 3 `.weights.h5` files (groups `layers/.../vars`), SavedModel
// directories, datasets in external files, virtual datasets and external links.
//
// libhdf5's own error printing is switched off; its failures become one pneuma::Error line naming the file, the
// layer and the weight. libhdf5 is not thread-safe in Debian's build: calls are serialised by a mutex.
#pragma once
#include <string>

#include "weights_import/tensor_archive.h"

namespace pneuma::weights_import {

TensorArchive read_keras_h5(const std::string& path);

}  // namespace pneuma::weights_import
