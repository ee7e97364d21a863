// torchvision state_dicts → our models: our parameter and buffer names are torchvision's, so the map is the
// identity on names; convolution weights go from OIHW to OHWI. BatchNorm's num_batches_tracked is not kept.
#include "kernels/error.h"
#include "weights_import/name_map.h"

namespace pneuma::weights_import {

NameMap torchvision_name_map(const ModelStructure& model) {
  PNEUMA_CHECK(model.torchvision_names(),
               "%s is built with timm's names (layout \"timm\"): torchvision has no such model; import it with "
               "--from timm, or --from keras",
               model.architecture().c_str());
  NameMap map;
  for (const ModelTensor& t : model.tensors()) {
    const bool conv_weight = (t.kind == ModuleKind::conv || t.kind == ModuleKind::depthwise_conv) && t.leaf == "weight";
    map.entries.push_back({t.name, {t.name}, conv_weight ? TensorTransform::torch_conv : TensorTransform::none});
  }
  map.is_source_classifier = [](const std::string& name) { return name.rfind("classifier.", 0) == 0; };
  map.is_ignorable = [](const std::string& name) {
    const std::string suffix = ".num_batches_tracked";
    return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return map;
}

}  // namespace pneuma::weights_import
