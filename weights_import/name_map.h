// Name maps: for every parameter and buffer of one of our models, which tensor of a foreign checkpoint holds it and
// how its layout differs. One file per source builds its map from the model's own structure (module types, block
// shapes), so every architecture, width and depth a builder can make is covered without per-variant tables:
//   name_map_torchvision.cpp  torchvision state_dicts: our names are torchvision's, conv weights OIHW
//   name_map_timm.cpp         timm state_dicts: 1:1 for our "timm" layout (efficientnet_v2_b0…b3); timm's names of
//                             mobilenetv2_* / efficientnet_b* / tf_efficientnet_b* / tf_efficientnetv2_s/m/l mapped
//                             onto our torchvision-named models
//   name_map_keras.cpp        keras.applications MobileNetV2 / EfficientNetB* / EfficientNetV2* weight names
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "models/image_classifier.h"

namespace pneuma::weights_import {

enum class WeightSource { torchvision, timm, keras, pneuma };   // pneuma: our own checkpoints (identity)
WeightSource weight_source_from_name(const std::string& name);  // "torchvision", "timm", "keras", "pneuma"
const char* weight_source_name(WeightSource source);

// How a source tensor becomes ours ([Cout, KH, KW, Cin/groups] convs, [out, in] linears).
enum class TensorTransform {
  none,
  torch_conv,       // OIHW → OHWI
  keras_conv,       // HWIO → OHWI
  keras_depthwise,  // [KH, KW, C, 1] → [C, KH, KW, 1]
  keras_dense,      // [in, out] → [out, in]
};
const char* transform_name(TensorTransform transform);
// The source tensor in our layout (a contiguous copy when permuted). Fails naming `label` when the rank is not the
// one the transform expects.
Tensor apply_transform(const Tensor& source, TensorTransform transform, const std::string& label);

struct NameMapping {
  std::string model_name;                 // ours, dotted
  std::vector<std::string> source_names;  // candidates, the first one present in the checkpoint is used
  TensorTransform transform = TensorTransform::none;
};

struct NameMap {
  std::vector<NameMapping> entries;  // one per model tensor, in the model's order
  // Source names of the checkpoint's classifier (reported separately under a classifier mismatch policy).
  std::function<bool(const std::string&)> is_source_classifier;
  // Source tensors that hold nothing for us and are skipped silently (num_batches_tracked, Keras Normalization).
  std::function<bool(const std::string&)> is_ignorable;
  // Keras: weight names may carry an outer model's scope ("model/Conv1/kernel"); match on the last two parts.
  bool match_name_suffix = false;
};

// ---- the model as the maps see it -----------------------------------------------------------------------------
enum class ModuleKind { conv, depthwise_conv, linear, batch_norm, other };

struct ModelTensor {
  std::string name, module, leaf;  // "features.0.1.weight" = module "features.0.1" + leaf "weight"
  ModuleKind kind = ModuleKind::other;
  Shape shape;
  int64_t stride = 1;  // convolutions: their stride
};

class ModelStructure {
 public:
  explicit ModelStructure(models::ImageClassifier& model);
  const std::vector<ModelTensor>& tensors() const { return tensors_; }
  const std::string& architecture() const { return architecture_; }
  bool torchvision_names() const { return torchvision_names_; }  // "features.…" (layouts torchvision and keras)
  size_t child_count(const std::string& module) const;           // 0 for an unknown module
  std::string type_of(const std::string& module) const;          // "" for an unknown module
  // Shape of a model tensor by name (empty when absent).
  Shape shape_of(const std::string& name) const;

 private:
  std::string architecture_;
  bool torchvision_names_ = false;
  std::vector<ModelTensor> tensors_;
  std::map<std::string, nn::Module*> modules_;
};

std::vector<std::string> split_name(const std::string& dotted);  // "a.b.c" → {"a", "b", "c"}

// The source layers behind the children of one of our Sequences: child K of `base` is roles[K]. A child that is a
// Conv2d or BatchNorm2d, or a conv-norm-activation Sequence of both, takes `conv` / `bn`; a SqueezeExcitation child
// takes `se_reduce` / `se_expand` (for its fc1 / fc2).
struct LayerRole {
  std::string conv{}, bn{}, se_reduce{}, se_expand{};
};
// The source layer holding tensor `t` under `base` ("" when `t` is not under base or no role names it).
std::string role_layer(const ModelTensor& t, const std::string& base, const std::vector<LayerRole>& roles);
// A conv-norm-activation Sequence at `module` ("features.0"): its conv takes role.conv, its BatchNorm role.bn.
std::string cna_layer(const ModelTensor& t, const std::string& module, const LayerRole& role);

NameMap build_name_map(WeightSource source, const ModelStructure& model);
NameMap torchvision_name_map(const ModelStructure& model);
NameMap timm_name_map(const ModelStructure& model);
NameMap keras_name_map(const ModelStructure& model);

}  // namespace pneuma::weights_import
