// What every name map shares: source names, layout transforms, and the model structure the maps are built from.
#include "weights_import/name_map.h"

#include <algorithm>

#include "engine/nn/batch_norm2d.h"
#include "engine/nn/conv2d.h"
#include "engine/nn/linear.h"
#include "kernels/error.h"

namespace pneuma::weights_import {

WeightSource weight_source_from_name(const std::string& name) {
  if (name == "torchvision") return WeightSource::torchvision;
  if (name == "timm") return WeightSource::timm;
  if (name == "keras") return WeightSource::keras;
  if (name == "pneuma") return WeightSource::pneuma;
  PNEUMA_FAIL("unknown weight source '%s' (torchvision, timm, keras or pneuma)", name.c_str());
}

const char* weight_source_name(WeightSource source) {
  switch (source) {
    case WeightSource::torchvision:
      return "torchvision";
    case WeightSource::timm:
      return "timm";
    case WeightSource::keras:
      return "keras";
    case WeightSource::pneuma:
      return "pneuma";
  }
  return "?";
}

const char* transform_name(TensorTransform transform) {
  switch (transform) {
    case TensorTransform::none:
      return "as is";
    case TensorTransform::torch_conv:
      return "OIHW→OHWI";
    case TensorTransform::keras_conv:
      return "HWIO→OHWI";
    case TensorTransform::keras_depthwise:
      return "[H,W,C,1]→[C,H,W,1]";
    case TensorTransform::keras_dense:
      return "[in,out]→[out,in]";
  }
  return "?";
}

Tensor apply_transform(const Tensor& source, TensorTransform transform, const std::string& label) {
  std::vector<int> order;
  int rank = 0;
  switch (transform) {
    case TensorTransform::none:
      return source;
    case TensorTransform::torch_conv:
      order = {0, 2, 3, 1}, rank = 4;
      break;
    case TensorTransform::keras_conv:
      order = {3, 0, 1, 2}, rank = 4;
      break;
    case TensorTransform::keras_depthwise:
      order = {2, 0, 1, 3}, rank = 4;
      break;
    case TensorTransform::keras_dense:
      order = {1, 0}, rank = 2;
      break;
  }
  PNEUMA_CHECK(source.rank() == rank, "%s: has shape %s, but a rank-%d tensor is needed for %s", label.c_str(),
               shape_string(source.shape()).c_str(), rank, transform_name(transform));
  return source.permute(order).contiguous();
}

std::vector<std::string> split_name(const std::string& dotted) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = dotted.find('.', start);
    parts.push_back(dotted.substr(start, dot - start));
    if (dot == std::string::npos) return parts;
    start = dot + 1;
  }
}

ModelStructure::ModelStructure(models::ImageClassifier& model) : architecture_(model.architecture()) {
  for (const auto& [name, module] : model.named_modules()) modules_[name] = module;
  torchvision_names_ = model.child("features") != nullptr;
  for (const auto& [name, tensor] : model.named_tensors()) {
    ModelTensor entry;
    entry.name = name;
    const size_t dot = name.rfind('.');
    entry.module = dot == std::string::npos ? "" : name.substr(0, dot);
    entry.leaf = dot == std::string::npos ? name : name.substr(dot + 1);
    entry.shape = tensor.shape();
    const auto found = modules_.find(entry.module);
    if (found != modules_.end()) {
      nn::Module* module = found->second;
      if (auto* conv = dynamic_cast<nn::Conv2d*>(module)) {
        entry.kind = conv->options().groups > 1 ? ModuleKind::depthwise_conv : ModuleKind::conv;
        entry.stride = conv->options().stride_height;
      } else if (dynamic_cast<nn::Linear*>(module)) {
        entry.kind = ModuleKind::linear;
      } else if (dynamic_cast<nn::BatchNorm2d*>(module)) {
        entry.kind = ModuleKind::batch_norm;
      }
    }
    tensors_.push_back(std::move(entry));
  }
}

size_t ModelStructure::child_count(const std::string& module) const {
  const auto found = modules_.find(module);
  return found == modules_.end() ? 0 : found->second->named_children().size();
}

std::string ModelStructure::type_of(const std::string& module) const {
  const auto found = modules_.find(module);
  return found == modules_.end() ? "" : found->second->type_name();
}

Shape ModelStructure::shape_of(const std::string& name) const {
  for (const ModelTensor& t : tensors_)
    if (t.name == name) return t.shape;
  return {};
}

std::string role_layer(const ModelTensor& t, const std::string& base, const std::vector<LayerRole>& roles) {
  if (t.module.size() <= base.size() || t.module.compare(0, base.size(), base) != 0 || t.module[base.size()] != '.')
    return "";
  const std::vector<std::string> rest = split_name(t.module.substr(base.size() + 1));
  size_t index = 0;
  for (char c : rest[0]) {
    if (c < '0' || c > '9') return "";
    index = index * 10 + static_cast<size_t>(c - '0');
  }
  if (index >= roles.size() || rest.size() > 2) return "";
  const LayerRole& role = roles[index];
  if (rest.size() == 2 && rest[1] == "fc1") return role.se_reduce;
  if (rest.size() == 2 && rest[1] == "fc2") return role.se_expand;
  if (t.kind == ModuleKind::conv || t.kind == ModuleKind::depthwise_conv) return role.conv;
  if (t.kind == ModuleKind::batch_norm) return role.bn;
  return "";
}

std::string cna_layer(const ModelTensor& t, const std::string& module, const LayerRole& role) {
  const size_t dot = t.module.rfind('.');
  if (dot == std::string::npos || t.module.compare(0, dot, module) != 0 || dot != module.size()) return "";
  if (t.kind == ModuleKind::conv || t.kind == ModuleKind::depthwise_conv) return role.conv;
  if (t.kind == ModuleKind::batch_norm) return role.bn;
  return "";
}

NameMap build_name_map(WeightSource source, const ModelStructure& model) {
  switch (source) {
    case WeightSource::torchvision:
      return torchvision_name_map(model);
    case WeightSource::timm:
      return timm_name_map(model);
    case WeightSource::keras:
      return keras_name_map(model);
    case WeightSource::pneuma: {
      NameMap map;
      for (const ModelTensor& t : model.tensors()) map.entries.push_back({t.name, {t.name}, TensorTransform::none});
      map.is_source_classifier = [](const std::string& name) { return name.rfind("classifier.", 0) == 0; };
      // Training state saved beside the model (optimizer moments, epoch, RNG) is not the model's.
      map.is_ignorable = [](const std::string& name) { return name.rfind("train_state.", 0) == 0; };
      return map;
    }
  }
  PNEUMA_FAIL("unreachable weight source");
}

}  // namespace pneuma::weights_import
