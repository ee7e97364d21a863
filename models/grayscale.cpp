#include "models/grayscale.h"

#include "engine/autograd.h"
#include "engine/nn/conv2d.h"
#include "engine/ops.h"

namespace pneuma::models {
namespace {

// The module at a dotted path below `root`, or null.
nn::Module* find_module(nn::Module& root, const std::string& path) {
  for (const auto& [name, module] : root.named_modules())
    if (name == path) return module;
  return nullptr;
}

// Puts `replacement` wherever `original` is a direct child in the subtree of `root`.
void replace_everywhere(nn::Module& root, const nn::Module* original, const std::shared_ptr<nn::Module>& replacement) {
  for (const auto& [path, module] : root.named_modules())
    for (const auto& [name, child] : module->named_children())
      if (child.get() == original) module->replace_child(name, replacement);
}

}  // namespace

void adapt_first_conv_to_grayscale(ImageClassifier& model) {
  const std::string& path = model.stem_conv_name();
  const size_t dot = path.rfind('.');
  nn::Module* parent = dot == std::string::npos ? &model : find_module(model, path.substr(0, dot));
  PNEUMA_CHECK(parent != nullptr, "%s: no stem module '%s'", model.architecture().c_str(), path.c_str());
  const auto stem = std::dynamic_pointer_cast<nn::Conv2d>(parent->child(path.substr(dot + 1)));
  PNEUMA_CHECK(stem != nullptr, "%s: the stem '%s' is not a convolution", model.architecture().c_str(), path.c_str());
  if (stem->weight().dim(3) == 1) return;
  PNEUMA_CHECK(stem->options().groups == 1, "%s: the stem convolution is grouped (%lld groups)",
               model.architecture().c_str(), static_cast<long long>(stem->options().groups));

  const Conv2dOptions& o = stem->options();
  PNEUMA_CHECK(o.stride_height == o.stride_width && o.dilation_height == o.dilation_width,
               "%s: the stem convolution has unequal strides or dilations", model.architecture().c_str());
  Generator scratch(0);  // the drawn weights are overwritten below
  auto gray = std::make_shared<nn::Conv2d>(1, stem->out_channels(), stem->kernel_size(), o.stride_height, o.padding,
                                           o.dilation_height, 1, stem->bias().defined(), scratch);
  const Tensor old_weight = stem->weight();
  gray->to(old_weight.device());
  gray->to(old_weight.dtype());
  {
    NoGradGuard no_grad;
    const int64_t in = old_weight.dim(3);
    const Shape shape = old_weight.shape();
    // [out·kh·kw, in] · ones[1, in]ᵀ = the sum over input channels.
    const Tensor ones = Tensor::ones({1, in}, old_weight.dtype(), old_weight.device());
    const Tensor summed = linear(reshape(old_weight.detach(), {-1, in}), ones, Tensor());
    gray->weight().copy_from(reshape(summed, {shape[0], shape[1], shape[2], 1}));
    if (stem->bias().defined()) gray->bias().copy_from(stem->bias());
  }
  gray->weight().set_requires_grad(old_weight.requires_grad());
  if (gray->bias().defined()) gray->bias().set_requires_grad(stem->bias().requires_grad());
  replace_everywhere(model, stem.get(), gray);
  replace_everywhere(model.backbone(), stem.get(), gray);
}

}  // namespace pneuma::models
