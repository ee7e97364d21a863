#include "models/summary.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "engine/autograd.h"
#include "engine/nn/conv2d.h"
#include "engine/nn/linear.h"
#include "models/forward_trace.h"

namespace pneuma::models {
namespace {

// Multiply-adds of the convolutions and linear layers applied once per sample (a squeeze-excitation's 1×1 layers on
// the pooled vector) in `module`'s subtree.
int64_t per_sample_weight_elements(nn::Module& module) {
  int64_t total = 0;
  module.apply([&](const std::string&, nn::Module& m) {
    if (auto* conv = dynamic_cast<nn::Conv2d*>(&m)) total += conv->weight().numel();
    if (auto* dense = dynamic_cast<nn::Linear*>(&m)) total += dense->weight().numel();
  });
  return total;
}

int64_t multiply_adds(nn::Module& module, const Shape& output_shape) {
  const int64_t outputs = shape_numel(output_shape);
  if (auto* conv = dynamic_cast<nn::Conv2d*>(&module))
    return outputs * (conv->weight().numel() / conv->out_channels());
  if (auto* dense = dynamic_cast<nn::Linear*>(&module)) return outputs * dense->in_features();
  return output_shape.empty() ? 0 : output_shape[0] * per_sample_weight_elements(module);
}

std::string with_thousands(int64_t value) {
  std::string digits = std::to_string(value), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

ModelSummary summarize(ImageClassifier& model, int64_t resolution) {
  PNEUMA_CHECK(resolution >= 1, "summary: resolution must be positive, got %lld", static_cast<long long>(resolution));
  ModelSummary summary;
  summary.architecture = model.architecture();
  summary.input_shape = {1, resolution, resolution, model.in_channels()};
  summary.parameters = model.parameter_count();
  summary.trainable_parameters = model.trainable_parameter_count();

  const Tensor stem_weight = model.find_tensor(model.stem_conv_name() + ".weight");
  const bool was_training = model.is_training();
  model.eval();
  ForwardTrace trace;
  {
    NoGradGuard no_grad;
    model.forward(Tensor::zeros(summary.input_shape, stem_weight.dtype(), stem_weight.device()));
  }
  model.train(was_training);

  std::map<const nn::Module*, std::string> names;
  for (const auto& [name, module] : model.named_modules()) names.emplace(module, name);
  std::set<const nn::Module*> traced;
  for (const TracedCall& call : trace.calls()) traced.insert(call.module);
  for (const TracedCall& call : trace.calls()) {
    auto* module = const_cast<nn::Module*>(call.module);
    bool runs_traced_modules = false;
    for (const auto& [name, descendant] : module->named_modules())
      runs_traced_modules |= descendant != module && traced.count(descendant) > 0;
    if (runs_traced_modules) continue;
    LayerRow row;
    const auto found = names.find(module);
    row.name = found != names.end() ? found->second : "?";
    row.type = module->type_name();
    row.output_shape = call.output_shape;
    row.parameters = module->parameter_count();
    row.multiply_adds = multiply_adds(*module, call.output_shape);
    summary.multiply_adds += row.multiply_adds;
    summary.rows.push_back(row);
  }
  return summary;
}

std::string format_summary(const ModelSummary& s) {
  size_t name_width = 5, type_width = 4;
  for (const LayerRow& row : s.rows) {
    name_width = std::max(name_width, row.name.size());
    type_width = std::max(type_width, row.type.size());
  }
  std::string text;
  char line[512];
  std::snprintf(line, sizeof line, "%s, input %s (NHWC)\n\n", s.architecture.c_str(), shape_string(s.input_shape).c_str());
  text += line;
  std::snprintf(line, sizeof line, "%-*s  %-*s  %-20s  %12s  %15s\n", static_cast<int>(name_width), "layer",
                static_cast<int>(type_width), "type", "output shape", "parameters", "multiply-adds");
  text += line;
  text += std::string(name_width + type_width + 20 + 12 + 15 + 8, '-') + "\n";
  for (const LayerRow& row : s.rows) {
    std::snprintf(line, sizeof line, "%-*s  %-*s  %-20s  %12s  %15s\n", static_cast<int>(name_width), row.name.c_str(),
                  static_cast<int>(type_width), row.type.c_str(), shape_string(row.output_shape).c_str(),
                  with_thousands(row.parameters).c_str(), with_thousands(row.multiply_adds).c_str());
    text += line;
  }
  text += "\n";
  std::snprintf(line, sizeof line,
                "parameters: %s total, %s trainable\n"
                "multiply-adds (MACs of convolutions and dense layers, per image): %s = %.3f G; FLOPs = 2 x MACs = "
                "%.3f G\n",
                with_thousands(s.parameters).c_str(), with_thousands(s.trainable_parameters).c_str(),
                with_thousands(s.multiply_adds).c_str(), s.multiply_adds * 1e-9, 2 * s.multiply_adds * 1e-9);
  text += line;
  return text;
}

}  // namespace pneuma::models
