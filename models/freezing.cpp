#include "models/freezing.h"

#include <algorithm>

#include "engine/nn/nn.h"
#include "models/blocks/residual_block.h"
#include "models/blocks/timm_blocks.h"

namespace pneuma::models {
namespace {

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

class KerasLayerWalker {
 public:
  explicit KerasLayerWalker(const ImageClassifier& model) : model_(model) {}

  std::vector<KerasLayer> run(nn::Module& backbone, const std::string& prefix) {
    layers_.push_back({"", "InputLayer", nullptr});
    walk(prefix, backbone, false);
    return std::move(layers_);
  }

 private:
  void walk(const std::string& name, nn::Module& module, bool in_residual_block) {
    if (auto* conv = dynamic_cast<nn::Conv2d*>(&module)) return convolution(name, *conv);
    if (auto* norm_act = dynamic_cast<BatchNormAct2d*>(&module)) {
      emit(name, "BatchNormalization", norm_act);
      if (norm_act->activation() != kernels::Activation::identity) emit(name, "Activation", nullptr);
      return;
    }
    if (dynamic_cast<nn::BatchNorm2d*>(&module)) return emit(name, "BatchNormalization", &module);
    if (auto* activation = dynamic_cast<nn::Activation*>(&module)) {
      const bool relu = activation->kind() == kernels::Activation::relu ||
                        activation->kind() == kernels::Activation::relu6;
      return emit(name, relu ? "ReLU" : "Activation", &module);
    }
    if (dynamic_cast<nn::SqueezeExcitation*>(&module) || dynamic_cast<TimmSqueezeExcite*>(&module))
      return squeeze_excitation(name, module);
    if (auto* drop_path = dynamic_cast<nn::DropPath*>(&module)) {
      if (in_residual_block && drop_path->p() > 0) emit(name, "Dropout", &module);
      return;
    }
    if (auto* dropout = dynamic_cast<nn::Dropout*>(&module)) {
      if (dropout->p() > 0) emit(name, "Dropout", &module);
      return;
    }
    const auto* block = dynamic_cast<const ResidualBlock*>(&module);
    const bool residual = block != nullptr && block->uses_residual();
    for (const auto& [child_name, child] : module.named_children()) walk(join(name, child_name), *child, residual);
    if (residual) emit(name, "Add", nullptr);
  }

  void convolution(const std::string& name, nn::Conv2d& conv) {
    const KerasLayerRules& rules = model_.keras_layer_rules();
    const bool depthwise = conv.options().groups > 1 && conv.options().groups == conv.in_channels();
    const bool strided = conv.options().stride_height > 1 || conv.options().stride_width > 1;
    const bool padded = (rules.pad_before_stem && name == model_.stem_conv_name()) ||
                        (rules.pad_before_strided_depthwise && depthwise && strided);
    if (padded) emit(name, "ZeroPadding2D", nullptr);
    emit(name, depthwise ? "DepthwiseConv2D" : "Conv2D", &conv);
  }

  void squeeze_excitation(const std::string& name, nn::Module& module) {
    const auto& children = module.named_children();
    PNEUMA_CHECK(children.size() == 2, "%s: a squeeze-excitation should have 2 convolutions, has %zu", name.c_str(),
                 children.size());
    emit(name, "GlobalAveragePooling2D", nullptr);
    emit(name, "Reshape", nullptr);
    emit(join(name, children[0].first), "Conv2D", children[0].second.get());
    emit(join(name, children[1].first), "Conv2D", children[1].second.get());
    emit(name, "Multiply", nullptr);
  }

  void emit(const std::string& name, const char* kind, nn::Module* module) { layers_.push_back({name, kind, module}); }

  const ImageClassifier& model_;
  std::vector<KerasLayer> layers_;
};

}  // namespace

std::vector<KerasLayer> keras_layers(ImageClassifier& model) {
  // The backbone is either a registered child ("features") or, for flat layouts, an aggregate over children
  // registered on the model itself, whose names are already the model's.
  std::string prefix;
  for (const auto& [name, child] : model.named_children())
    if (child.get() == &model.backbone()) prefix = name;
  return KerasLayerWalker(model).run(model.backbone(), prefix);
}

void freeze_backbone(ImageClassifier& model) { model.backbone().freeze(); }

std::vector<KerasLayer> unfreeze_top_layers(ImageClassifier& model, int64_t count) {
  PNEUMA_CHECK(count >= 0, "unfreeze_top_layers: the layer count must be >= 0, got %lld", static_cast<long long>(count));
  freeze_backbone(model);
  std::vector<KerasLayer> layers = keras_layers(model);
  const size_t first = layers.size() - std::min(layers.size(), static_cast<size_t>(count));
  std::vector<KerasLayer> unfrozen(layers.begin() + static_cast<std::ptrdiff_t>(first), layers.end());
  for (const KerasLayer& layer : unfrozen)
    if (layer.module != nullptr) layer.module->unfreeze();
  return unfrozen;
}

}  // namespace pneuma::models
