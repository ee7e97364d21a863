// load_weights: match through the name map, check everything, then write (so a failed load changes nothing).
#include "weights_import/load_weights.h"

#include <algorithm>
#include <unordered_map>

#include "kernels/error.h"
#include "weights_import/printable.h"

namespace pneuma::weights_import {
namespace {

bool is_model_classifier(const std::string& name) { return name.rfind("classifier.", 0) == 0; }

// "a/b/c" → "b/c": the layer and weight names, without an outer model's scope.
std::string last_two_parts(const std::string& name) {
  const size_t last = name.rfind('/');
  if (last == std::string::npos || last == 0) return name;
  const size_t previous = name.rfind('/', last - 1);
  return previous == std::string::npos ? name : name.substr(previous + 1);
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

void add_group(std::vector<std::string>& groups, const std::string& title, const std::vector<std::string>& items) {
  if (!items.empty()) groups.push_back(title + " (" + std::to_string(items.size()) + "): " + join(items));
}

}  // namespace

ClassifierMismatch classifier_mismatch_from_name(const std::string& name) {
  if (name == "error") return ClassifierMismatch::error;
  if (name == "drop") return ClassifierMismatch::drop;
  if (name == "reinit") return ClassifierMismatch::reinit;
  PNEUMA_FAIL("unknown classifier mismatch policy '%s' (error, drop or reinit)", name.c_str());
}

LoadReport load_weights(models::ImageClassifier& model, const TensorArchive& archive, const LoadOptions& options) {
  const ModelStructure structure(model);
  const NameMap map = build_name_map(options.source, structure);

  // Where each source name lives; with suffix matching also under its last two parts (when unambiguous).
  std::unordered_map<std::string, size_t> by_name;
  std::unordered_map<std::string, int64_t> by_suffix;
  for (size_t i = 0; i < archive.tensors.size(); ++i) {
    by_name.emplace(archive.tensors[i].name, i);
    if (map.match_name_suffix) {
      const auto [it, inserted] = by_suffix.emplace(last_two_parts(archive.tensors[i].name), static_cast<int64_t>(i));
      if (!inserted) it->second = -1;
    }
  }
  auto locate = [&](const std::string& name) -> int64_t {
    if (const auto it = by_name.find(name); it != by_name.end()) return static_cast<int64_t>(it->second);
    if (const auto it = by_suffix.find(name); it != by_suffix.end()) return it->second;
    return -1;
  };

  std::unordered_map<std::string, Tensor> targets;
  for (const auto& [name, tensor] : model.named_tensors()) targets.emplace(name, tensor);

  struct Copy {
    Tensor target, value;
  };
  std::vector<Copy> copies;
  std::vector<bool> used(archive.tensors.size(), false);
  std::vector<std::string> missing, wrong_shape, head_missing, head_mismatch;
  LoadReport report;
  const bool reinit = options.classifier_mismatch == ClassifierMismatch::reinit;
  for (const NameMapping& entry : map.entries) {
    const bool head = is_model_classifier(entry.model_name);
    if (head && reinit) {
      report.classifier_kept.push_back(entry.model_name);
      continue;
    }
    int64_t index = -1;
    for (const std::string& candidate : entry.source_names)
      if ((index = locate(candidate)) >= 0) break;
    if (index < 0) {
      const std::string text =
          entry.model_name + (entry.source_names.empty() ? "" : " (as '" + printable(entry.source_names[0]) + "')");
      (head ? head_missing : missing).push_back(text);
      continue;
    }
    const NamedTensor& source = archive.tensors[static_cast<size_t>(index)];
    used[static_cast<size_t>(index)] = true;
    const Tensor& target = targets.at(entry.model_name);
    const std::string label = entry.model_name + " ← '" + printable(source.name) + "'";
    Tensor value;
    try {
      value = apply_transform(source.tensor, entry.transform, label);
    } catch (const Error& error) {
      (head ? head_mismatch : wrong_shape).push_back(error.what());
      continue;
    }
    if (value.shape() != target.shape()) {
      std::string text = label + ": checkpoint " + shape_string(source.tensor.shape());
      if (entry.transform != TensorTransform::none)
        text += std::string(" (") + transform_name(entry.transform) + " " + shape_string(value.shape()) + ")";
      (head ? head_mismatch : wrong_shape).push_back(text + ", model " + shape_string(target.shape()));
      continue;
    }
    copies.push_back({target, value});
  }

  std::vector<std::string> unexpected, head_unused;
  for (size_t i = 0; i < archive.tensors.size(); ++i) {
    if (used[i]) continue;
    const std::string& name = archive.tensors[i].name;
    if (map.is_ignorable && map.is_ignorable(name)) {
      report.ignored.push_back(name);
    } else if (map.is_source_classifier && map.is_source_classifier(name)) {
      head_unused.push_back(printable(name));
    } else {
      unexpected.push_back(printable(name));
    }
  }

  std::vector<std::string> problems;
  add_group(problems, "wrong shape", wrong_shape);
  if (options.strict) {
    add_group(problems, "missing from the checkpoint", missing);
    add_group(problems, "unexpected in the checkpoint", unexpected);
  }
  if (options.classifier_mismatch == ClassifierMismatch::error) {
    add_group(problems, "classifier missing from the checkpoint", head_missing);
    add_group(problems, "classifier of another shape", head_mismatch);
    add_group(problems, "checkpoint classifier tensors without a place", head_unused);
  }
  if (!problems.empty()) {
    const size_t body = static_cast<size_t>(std::count_if(
        map.entries.begin(), map.entries.end(), [](const auto& e) { return !is_model_classifier(e.model_name); }));
    const size_t failed = missing.size() + wrong_shape.size();
    std::string message = std::string(weight_source_name(options.source)) + " checkpoint " + archive.path +
                          " does not fit " + structure.architecture();
    if (failed * 4 >= body && failed > 0)
      message += " — it holds a different architecture (or width, depth or layout): " + std::to_string(failed) +
                 " of the model's " + std::to_string(body) + " backbone tensors have no match";
    if (!head_missing.empty() || !head_mismatch.empty() || !head_unused.empty())
      message +=
          " (a classifier of another class count can be dropped or re-initialised: classifier_mismatch "
          "drop / reinit)";
    for (const std::string& group : problems) message += "; " + group;
    PNEUMA_FAIL("%s", message.c_str());
  }

  for (Copy& copy : copies) copy.target.copy_from(copy.value);
  report.loaded = static_cast<int64_t>(copies.size());
  report.missing = std::move(missing);
  report.unexpected = std::move(unexpected);
  for (const auto* list : {&head_missing, &head_mismatch})
    for (const std::string& text : *list) report.classifier_kept.push_back(text.substr(0, text.find(' ')));
  report.classifier_unused = std::move(head_unused);
  return report;
}

}  // namespace pneuma::weights_import
