// Keras (keras.applications) weights → our torchvision-named models (layouts "torchvision" and "keras").
// Tensor names are "<layer>/<weight>" as the Keras HDF5 reader gives them; weights: Conv2D kernel [KH, KW, in, out]
// (+ bias), DepthwiseConv2D depthwise_kernel [KH, KW, C, 1], Dense kernel [in, out] + bias, BatchNormalization
// gamma, beta, moving_mean, moving_variance.
//
// MobileNetV2 (keras.applications.mobilenet_v2):
//   features.0                 Conv1, bn_Conv1
//   features.1 (no expansion)  expanded_conv_depthwise(_BN), expanded_conv_project(_BN)
//   features.i, i ≥ 2          block_{i-1}_expand(_BN), block_{i-1}_depthwise(_BN), block_{i-1}_project(_BN)
//   last features entry        Conv_1, Conv_1_bn
//   classifier.1               predictions
// EfficientNet B0–B7 (keras.applications.efficientnet) and EfficientNetV2 (keras.applications.efficientnet_v2):
//   features.0                 stem_conv, stem_bn
//   features.S.J               prefix block{S}{a+J}_ with, by block structure:
//                              MBConv: [expand_conv expand_bn] dwconv (V1) or dwconv2 (V2), bn, se_reduce, se_expand,
//                                      project_conv, project_bn
//                              FusedMBConv: [expand_conv expand_bn] project_conv project_bn
//   last features entry        top_conv, top_bn
//   classifier.1               predictions
// The Normalization layer Keras builds into EfficientNet models (mean, variance, count) is input scaling, which
// belongs to our preprocessing: it is skipped.
#include <string>

#include "kernels/error.h"
#include "weights_import/name_map.h"

namespace pneuma::weights_import {
namespace {

std::string keras_leaf(const ModelTensor& t) {
  if (t.kind == ModuleKind::batch_norm) {
    if (t.leaf == "weight") return "gamma";
    if (t.leaf == "bias") return "beta";
    if (t.leaf == "running_mean") return "moving_mean";
    if (t.leaf == "running_var") return "moving_variance";
    return "";
  }
  if (t.leaf == "weight") return t.kind == ModuleKind::depthwise_conv ? "depthwise_kernel" : "kernel";
  return t.leaf;  // bias
}

TensorTransform keras_transform(const ModelTensor& t) {
  if (t.leaf != "weight") return TensorTransform::none;
  switch (t.kind) {
    case ModuleKind::conv:
      return TensorTransform::keras_conv;
    case ModuleKind::depthwise_conv:
      return TensorTransform::keras_depthwise;
    case ModuleKind::linear:
      return TensorTransform::keras_dense;
    default:
      return TensorTransform::none;
  }
}

// Candidate layer names for tensor `t` of MobileNetV2 (several only where Keras versions differ).
std::vector<std::string> mobilenet_layers(const ModelTensor& t, const ModelStructure& model, size_t last) {
  const std::vector<std::string> parts = split_name(t.name);
  const size_t index = std::stoul(parts[1]);
  if (index == 0) return {cna_layer(t, "features.0", {"Conv1", "bn_Conv1"})};
  if (index == last) return {cna_layer(t, "features." + parts[1], {"Conv_1", "Conv_1_bn"})};
  const std::string base = "features." + parts[1] + ".conv";
  const std::string p = index == 1 ? "expanded_conv" : "block_" + std::to_string(index - 1);
  std::vector<LayerRole> roles;
  if (model.child_count(base) == 4) roles.push_back({p + "_expand", p + "_expand_BN"});
  roles.push_back({p + "_depthwise", p + "_depthwise_BN"});
  roles.push_back({p + "_project", ""});
  roles.push_back({"", p + "_project_BN"});
  return {role_layer(t, base, roles)};
}

std::vector<std::string> efficientnet_layers(const ModelTensor& t, const ModelStructure& model, size_t last) {
  const std::vector<std::string> parts = split_name(t.name);
  const size_t index = std::stoul(parts[1]);
  if (index == 0) return {cna_layer(t, "features.0", {"stem_conv", "stem_bn"})};
  if (index == last) return {cna_layer(t, "features." + parts[1], {"top_conv", "top_bn"})};
  if (parts.size() < 4) return {};
  const std::string block = "features." + parts[1] + "." + parts[2];
  const size_t j = std::stoul(parts[2]);
  const std::string p = "block" + parts[1] + static_cast<char>('a' + j) + "_";
  const size_t children = model.child_count(block + ".block");
  std::vector<LayerRole> roles;
  if (model.type_of(block) == "FusedMBConv") {
    if (children == 2) roles.push_back({p + "expand_conv", p + "expand_bn"});
    roles.push_back({p + "project_conv", p + "project_bn"});
    return {role_layer(t, block + ".block", roles)};
  }
  if (children == 4) roles.push_back({p + "expand_conv", p + "expand_bn"});
  // EfficientNetV2's MBConv names its depthwise conv dwconv2, EfficientNet's dwconv: try both.
  std::vector<std::string> candidates;
  for (const char* depthwise : {"dwconv2", "dwconv"}) {
    std::vector<LayerRole> with = roles;
    with.push_back({p + depthwise, p + "bn"});
    with.push_back({"", "", p + "se_reduce", p + "se_expand"});
    with.push_back({p + "project_conv", p + "project_bn"});
    const std::string layer = role_layer(t, block + ".block", with);
    if (!layer.empty() && (candidates.empty() || candidates.back() != layer)) candidates.push_back(layer);
  }
  return candidates;
}

}  // namespace

NameMap keras_name_map(const ModelStructure& model) {
  PNEUMA_CHECK(model.torchvision_names(),
               "%s is built with timm's names (layout \"timm\"); Keras weights load into layout \"keras\"",
               model.architecture().c_str());
  const bool mobilenet = model.architecture() == "mobilenet_v2";
  PNEUMA_CHECK(mobilenet || model.architecture().rfind("efficientnet", 0) == 0, "no Keras name map for architecture %s",
               model.architecture().c_str());
  const size_t last = model.child_count("features") - 1;
  NameMap map;
  map.match_name_suffix = true;
  map.is_source_classifier = [](const std::string& name) {
    return name.rfind("predictions/", 0) == 0 || name.find("/predictions/") != std::string::npos;
  };
  map.is_ignorable = [](const std::string& name) {
    const size_t slash = name.rfind('/');
    const std::string layer = name.substr(0, slash);
    const size_t scope = layer.rfind('/');
    return layer.compare(scope == std::string::npos ? 0 : scope + 1, 13, "normalization") == 0;
  };
  for (const ModelTensor& t : model.tensors()) {
    std::vector<std::string> layers;
    if (t.name.rfind("features.", 0) == 0) {
      layers = mobilenet ? mobilenet_layers(t, model, last) : efficientnet_layers(t, model, last);
    } else if (t.module == "classifier.1" && model.child_count("classifier") == 2) {
      layers = {"predictions"};
    }
    NameMapping entry{t.name, {}, keras_transform(t)};
    const std::string leaf = keras_leaf(t);
    for (const std::string& layer : layers)
      if (!layer.empty() && !leaf.empty()) entry.source_names.push_back(layer + "/" + leaf);
    map.entries.push_back(std::move(entry));
  }
  return map;
}

}  // namespace pneuma::weights_import
