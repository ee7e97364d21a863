#include "models/model_config.h"

#include <nlohmann/json.hpp>

#include "kernels/error.h"

namespace pneuma::models {
namespace {

using Json = nlohmann::json;

const char* const known_keys[] = {"architecture", "classes", "in_channels",    "width_multiplier", "padding",
                                  "layout",       "dropout", "drop_path_rate", "head"};

std::string known_key_list() {
  std::string list;
  for (const char* key : known_keys) list += (list.empty() ? "" : ", ") + std::string(key);
  return list;
}

template <class T>
void read_optional(const Json& json, const char* key, T& field) {
  if (!json.contains(key)) return;
  try {
    field = json.at(key).get<T>();
  } catch (const Json::exception&) {
    PNEUMA_FAIL("model config: key '%s' has the wrong type (%s)", key, json.at(key).dump().c_str());
  }
}

}  // namespace

void to_json(Json& json, const ModelConfig& c) {
  json = Json{{"architecture", c.architecture}, {"classes", c.classes},   {"in_channels", c.in_channels},
              {"width_multiplier", c.width_multiplier}, {"padding", c.padding}, {"layout", c.layout},
              {"dropout", c.dropout},     {"drop_path_rate", c.drop_path_rate}, {"head", c.head}};
}

void from_json(const Json& json, ModelConfig& c) {
  PNEUMA_CHECK(json.is_object(), "model config: expected a JSON object, got %s", json.dump().c_str());
  for (const auto& [key, value] : json.items()) {
    bool known = false;
    for (const char* k : known_keys) known |= key == k;
    PNEUMA_CHECK(known, "model config: unknown key '%s' (known: %s)", key.c_str(), known_key_list().c_str());
  }
  PNEUMA_CHECK(json.contains("architecture"), "model config: the key 'architecture' is required");
  ModelConfig parsed;
  read_optional(json, "architecture", parsed.architecture);
  read_optional(json, "classes", parsed.classes);
  read_optional(json, "in_channels", parsed.in_channels);
  read_optional(json, "width_multiplier", parsed.width_multiplier);
  read_optional(json, "padding", parsed.padding);
  read_optional(json, "layout", parsed.layout);
  read_optional(json, "dropout", parsed.dropout);
  read_optional(json, "drop_path_rate", parsed.drop_path_rate);
  read_optional(json, "head", parsed.head);
  c = parsed;
}

void check_common_fields(const ModelConfig& c) {
  const char* arch = c.architecture.c_str();
  PNEUMA_CHECK(c.classes >= 1, "%s: classes must be >= 1, got %lld", arch, static_cast<long long>(c.classes));
  PNEUMA_CHECK(c.in_channels >= 1, "%s: in_channels must be >= 1, got %lld", arch,
               static_cast<long long>(c.in_channels));
  PNEUMA_CHECK(c.padding == "symmetric" || c.padding == "same",
               "%s: padding must be \"symmetric\" or \"same\", got \"%s\"", arch, c.padding.c_str());
  PNEUMA_CHECK(c.layout == "torchvision" || c.layout == "timm" || c.layout == "keras",
               "%s: layout must be \"torchvision\", \"timm\" or \"keras\", got \"%s\"", arch, c.layout.c_str());
  PNEUMA_CHECK(c.dropout < 1, "%s: dropout must be < 1 (or < 0 for the default), got %g", arch, c.dropout);
  PNEUMA_CHECK(c.drop_path_rate < 1, "%s: drop_path_rate must be < 1 (or < 0 for the default), got %g", arch,
               c.drop_path_rate);
  PNEUMA_CHECK(c.width_multiplier > 0, "%s: width_multiplier must be positive, got %g", arch, c.width_multiplier);
  PNEUMA_CHECK(c.head.empty() || c.dropout < 0,
               "%s: dropout %g and a head spec are both given; put the dropout in the head spec", arch, c.dropout);
}

bool uses_same_padding(const ModelConfig& c) { return c.padding == "same" || c.layout == "keras" || c.layout == "timm"; }

double resolved_dropout(const ModelConfig& c, double fallback) { return c.dropout >= 0 ? c.dropout : fallback; }

double resolved_drop_path_rate(const ModelConfig& c, double fallback) {
  return c.drop_path_rate >= 0 ? c.drop_path_rate : fallback;
}

}  // namespace pneuma::models
