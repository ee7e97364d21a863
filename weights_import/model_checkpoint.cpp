// Writing and reading our model checkpoints: metadata assembled and validated, tensors through load_weights with
// the identity ("pneuma") name map so missing, unexpected and wrong-shaped tensors are reported together.
#include "weights_import/model_checkpoint.h"

#include <nlohmann/json.hpp>

#include "kernels/error.h"
#include "models/registry.h"
#include "weights_import/load_weights.h"

namespace pneuma::weights_import {
namespace {

using Json = nlohmann::json;

constexpr const char* kReservedKeys[] = {"architecture",  "config",  "classes",
                                         "normalization", "padding", "format_version"};

void check_class_names(const std::vector<std::string>& names, int64_t classes, const std::string& where) {
  PNEUMA_CHECK(static_cast<int64_t>(names.size()) == classes || (classes == 1 && names.size() == 2),
               "%s: %zu class names for a model with %lld outputs (one name per output, or two for a one-logit "
               "binary model)",
               where.c_str(), names.size(), static_cast<long long>(classes));
}

const std::string& required(const std::map<std::string, std::string>& metadata, const char* key,
                            const std::string& path) {
  const auto found = metadata.find(key);
  PNEUMA_CHECK(found != metadata.end(), "checkpoint %s: metadata has no '%s' (not a pneuma model checkpoint?)",
               path.c_str(), key);
  return found->second;
}

Json parse_json(const std::string& text, const char* key, const std::string& path) {
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    PNEUMA_FAIL("checkpoint %s: metadata '%s' is not valid JSON: %s", path.c_str(), key, e.what());
  }
}

}  // namespace

void save_model_checkpoint(const std::string& path, models::ImageClassifier& model, const models::ModelConfig& config,
                           const std::vector<std::string>& class_names, const Normalization& normalization,
                           const std::map<std::string, std::string>& extra_metadata,
                           const std::vector<NamedTensor>& extra_tensors) {
  PNEUMA_CHECK(config.architecture == model.architecture(), "save checkpoint %s: config says %s but the model is %s",
               path.c_str(), config.architecture.c_str(), model.architecture().c_str());
  PNEUMA_CHECK(config.classes == model.classes() && config.in_channels == model.in_channels(),
               "save checkpoint %s: config says %lld classes and %lld input channels, the model has %lld and %lld",
               path.c_str(), static_cast<long long>(config.classes), static_cast<long long>(config.in_channels),
               static_cast<long long>(model.classes()), static_cast<long long>(model.in_channels()));
  check_class_names(class_names, model.classes(), "save checkpoint " + path);
  normalization.validate();
  PNEUMA_CHECK(normalization.channels == model.in_channels(),
               "save checkpoint %s: normalization has %d channels but the model takes %lld", path.c_str(),
               normalization.channels, static_cast<long long>(model.in_channels()));

  std::map<std::string, std::string> metadata = extra_metadata;
  for (const char* key : kReservedKeys)
    PNEUMA_CHECK(!metadata.count(key), "save checkpoint %s: extra metadata may not set the reserved key '%s'",
                 path.c_str(), key);
  metadata["architecture"] = config.architecture;
  metadata["config"] = Json(config).dump();
  metadata["classes"] = Json(class_names).dump();
  metadata["normalization"] = Json(normalization).dump();
  metadata["padding"] = models::uses_same_padding(config) ? "same" : "symmetric";
  metadata["format_version"] = kCheckpointFormatVersion;

  std::vector<NamedTensor> tensors;
  for (const auto& [name, tensor] : model.named_tensors()) tensors.push_back({name, tensor});
  for (const NamedTensor& extra : extra_tensors) {
    PNEUMA_CHECK(extra.name.rfind("train_state.", 0) == 0,
                 "save checkpoint %s: extra tensor '%s' must be named train_state.…", path.c_str(), extra.name.c_str());
    tensors.push_back(extra);
  }
  write_safetensors(path, tensors, metadata);
}

ModelCheckpoint load_model_checkpoint(const std::string& path) {
  SafetensorsFile file = read_safetensors(path);
  const std::string& version = required(file.metadata, "format_version", path);
  PNEUMA_CHECK(version == kCheckpointFormatVersion,
               "checkpoint %s: format_version %s is not supported (this pneuma "
               "reads %s)",
               path.c_str(), version.c_str(), kCheckpointFormatVersion);

  ModelCheckpoint checkpoint;
  try {
    checkpoint.config = parse_json(required(file.metadata, "config", path), "config", path).get<models::ModelConfig>();
    checkpoint.class_names =
        parse_json(required(file.metadata, "classes", path), "classes", path).get<std::vector<std::string>>();
    checkpoint.normalization =
        parse_json(required(file.metadata, "normalization", path), "normalization", path).get<Normalization>();
  } catch (const Json::exception& e) {
    PNEUMA_FAIL("checkpoint %s: metadata has the wrong form: %s", path.c_str(), e.what());
  } catch (const Error& e) {
    PNEUMA_FAIL("checkpoint %s: %s", path.c_str(), e.what());
  }
  PNEUMA_CHECK(required(file.metadata, "architecture", path) == checkpoint.config.architecture,
               "checkpoint %s: metadata 'architecture' (%s) disagrees with its config (%s)", path.c_str(),
               file.metadata.at("architecture").c_str(), checkpoint.config.architecture.c_str());
  check_class_names(checkpoint.class_names, checkpoint.config.classes, "checkpoint " + path);

  checkpoint.model = models::create_model(checkpoint.config);
  PNEUMA_CHECK(checkpoint.normalization.channels == checkpoint.model->in_channels(),
               "checkpoint %s: normalization has %d channels but the model takes %lld", path.c_str(),
               checkpoint.normalization.channels, static_cast<long long>(checkpoint.model->in_channels()));
  const TensorArchive archive{path, std::move(file.tensors), file.metadata};
  load_weights(*checkpoint.model, archive, {WeightSource::pneuma, ClassifierMismatch::error, true});
  checkpoint.model->eval();
  checkpoint.metadata = std::move(file.metadata);
  return checkpoint;
}

}  // namespace pneuma::weights_import
