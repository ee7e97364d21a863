// timm state_dicts → our models. A model built with layout "timm" (efficientnet_v2_b0…b3, timm's
// tf_efficientnetv2_b0…b3) has timm's names already: the map is the identity with OIHW → OHWI conv weights.
// Our torchvision-named models take timm's names of the same networks, block for block:
//   conv_stem, bn1 ← features.0;   conv_head, bn2 ← the last features entry;   classifier ← classifier.1
//   blocks.S.J ← stage S+1, block J (EfficientNets: features.S+1.J; MobileNetV2: its blocks grouped into stages
//   by output width), whose children are, by our block's structure:
//     MobileNetV2 / MBConv with expansion   conv_pw bn1 · conv_dw bn2 · [se.conv_reduce se.conv_expand] · conv_pwl bn3
//     without expansion (timm's DepthwiseSeparableConv)   conv_dw bn1 · [se] · conv_pw bn2
//     FusedMBConv with expansion (EdgeResidual)            conv_exp bn1 · conv_pwl bn2
//     without expansion (ConvBnAct)                        conv bn1
// This covers timm's mobilenetv2_*, efficientnet_b*, tf_efficientnet_b* and tf_efficientnetv2_s/m/l (the tf_
// variants need TensorFlow's SAME padding and BatchNorm eps 1e-3: our layout "keras").
#include <algorithm>
#include <string>

#include "kernels/error.h"
#include "weights_import/name_map.h"

namespace pneuma::weights_import {
namespace {

bool is_torch_conv_weight(const ModelTensor& t) {
  return (t.kind == ModuleKind::conv || t.kind == ModuleKind::depthwise_conv) && t.leaf == "weight";
}

// Roles of the children of one block's Sequence (MobileNetV2's "conv", an EfficientNet block's "block").
std::vector<LayerRole> block_roles(const std::string& prefix, const std::string& type, size_t children) {
  auto p = [&](const char* name) { return prefix + name; };
  const LayerRole se{"", "", p("se.conv_reduce"), p("se.conv_expand")};
  if (type == "InvertedResidual") {  // MobileNetV2: [expand CNA] dw CNA, project conv, project BN
    if (children == 4) return {{p("conv_pw"), p("bn1")}, {p("conv_dw"), p("bn2")}, {p("conv_pwl"), ""}, {"", p("bn3")}};
    return {{p("conv_dw"), p("bn1")}, {p("conv_pw"), ""}, {"", p("bn2")}};
  }
  if (type == "MBConv") {
    if (children == 4) return {{p("conv_pw"), p("bn1")}, {p("conv_dw"), p("bn2")}, se, {p("conv_pwl"), p("bn3")}};
    return {{p("conv_dw"), p("bn1")}, se, {p("conv_pw"), p("bn2")}};
  }
  if (type == "FusedMBConv") {
    if (children == 2) return {{p("conv_exp"), p("bn1")}, {p("conv_pwl"), p("bn2")}};
    return {{p("conv"), p("bn1")}};
  }
  return {};
}

// Our features index → (timm stage, index in stage). MobileNetV2's stages are not separate modules: a stage
// starts at every block without a residual connection (stride 2, or a change of width), as in the paper's table.
std::vector<std::pair<int, int>> mobilenet_stages(const ModelStructure& model, size_t blocks) {
  std::vector<int64_t> in(blocks + 1, -1), out(blocks + 1, -1), stride(blocks + 1, 1);
  for (const ModelTensor& t : model.tensors()) {
    const std::vector<std::string> parts = split_name(t.name);
    if (parts.size() < 4 || parts[0] != "features" || parts[2] != "conv" || t.leaf != "weight" ||
        (t.kind != ModuleKind::conv && t.kind != ModuleKind::depthwise_conv))
      continue;
    const size_t i = std::stoul(parts[1]);
    if (i == 0 || i > blocks) continue;
    if (in[i] < 0) in[i] = t.kind == ModuleKind::depthwise_conv ? t.shape[0] : t.shape[3];  // first conv's input
    out[i] = t.shape[0];                                                                    // last conv's output
    stride[i] = std::max(stride[i], t.stride);
  }
  std::vector<std::pair<int, int>> stages(blocks + 1, {-1, -1});
  int stage = -1, index = 0;
  for (size_t i = 1; i <= blocks; ++i) {
    if (i == 1 || stride[i] > 1 || in[i] != out[i]) {
      ++stage;
      index = 0;
    }
    stages[i] = {stage, index++};
  }
  return stages;
}

}  // namespace

NameMap timm_name_map(const ModelStructure& model) {
  NameMap map;
  map.is_source_classifier = [](const std::string& name) { return name.rfind("classifier.", 0) == 0; };
  map.is_ignorable = [](const std::string& name) {
    const std::string suffix = ".num_batches_tracked";
    return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (!model.torchvision_names()) {  // built with timm's names: identity
    for (const ModelTensor& t : model.tensors())
      map.entries.push_back(
          {t.name, {t.name}, is_torch_conv_weight(t) ? TensorTransform::torch_conv : TensorTransform::none});
    return map;
  }
  const bool mobilenet = model.architecture() == "mobilenet_v2";
  PNEUMA_CHECK(mobilenet || model.architecture().rfind("efficientnet", 0) == 0, "no timm name map for architecture %s",
               model.architecture().c_str());
  const size_t last = model.child_count("features") - 1;
  const auto stages = mobilenet ? mobilenet_stages(model, last - 1) : std::vector<std::pair<int, int>>{};

  for (const ModelTensor& t : model.tensors()) {
    const std::vector<std::string> parts = split_name(t.name);
    std::string layer;
    if (parts[0] == "features" && parts.size() >= 3) {
      const size_t index = std::stoul(parts[1]);
      if (index == 0) {
        layer = cna_layer(t, "features.0", {"conv_stem", "bn1"});
      } else if (index == last) {
        layer = cna_layer(t, "features." + parts[1], {"conv_head", "bn2"});
      } else if (mobilenet && index < stages.size()) {
        const std::string base = "features." + parts[1] + ".conv";
        const std::string prefix =
            "blocks." + std::to_string(stages[index].first) + "." + std::to_string(stages[index].second) + ".";
        layer =
            role_layer(t, base, block_roles(prefix, model.type_of("features." + parts[1]), model.child_count(base)));
      } else if (!mobilenet && parts.size() >= 4) {
        const std::string block = "features." + parts[1] + "." + parts[2];
        const std::string prefix = "blocks." + std::to_string(index - 1) + "." + parts[2] + ".";
        layer = role_layer(t, block + ".block",
                           block_roles(prefix, model.type_of(block), model.child_count(block + ".block")));
      }
    } else if (t.module == "classifier.1" && model.child_count("classifier") == 2) {
      layer = "classifier";
    }
    NameMapping entry{t.name, {}, is_torch_conv_weight(t) ? TensorTransform::torch_conv : TensorTransform::none};
    if (!layer.empty()) entry.source_names.push_back(layer + "." + t.leaf);
    map.entries.push_back(std::move(entry));
  }
  return map;
}

}  // namespace pneuma::weights_import
