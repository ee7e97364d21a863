// Normalization presets, validation and JSON, and batch preprocessing through engine/data/preprocess.h.
#include "weights_import/preprocess.h"

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "kernels/error.h"

namespace pneuma::weights_import {
namespace {

using Json = nlohmann::json;

constexpr const char* kResizePolicy = "bilinear_antialiased";

}  // namespace

Normalization Normalization::preset(const std::string& name, int channels, int size, double center_crop_fraction) {
  PNEUMA_CHECK(channels == 1 || channels == 3, "normalization: %d channels (1 or 3)", channels);
  Normalization n;
  n.name = name;
  n.channels = channels;
  n.height = n.width = size;
  n.center_crop_fraction = center_crop_fraction;
  if (name == "imagenet") {
    n.mean = {0.485 * 255, 0.456 * 255, 0.406 * 255};
    n.std = {0.229 * 255, 0.224 * 255, 0.225 * 255};
    if (channels == 1) {
      n.mean = {(n.mean[0] + n.mean[1] + n.mean[2]) / 3};
      n.std = {(n.std[0] + n.std[1] + n.std[2]) / 3};
    }
  } else if (name == "minus_one_one") {
    n.mean.assign(channels, 127.5);
    n.std.assign(channels, 127.5);
  } else if (name == "zero_one") {
    n.mean.assign(channels, 0.0);
    n.std.assign(channels, 255.0);
  } else {
    PNEUMA_FAIL("unknown normalization '%s' (imagenet, minus_one_one or zero_one)", name.c_str());
  }
  n.validate();
  return n;
}

void Normalization::validate() const {
  PNEUMA_CHECK(channels == 1 || channels == 3, "normalization: %d channels (1 or 3)", channels);
  PNEUMA_CHECK(mean.size() == static_cast<size_t>(channels) && std.size() == static_cast<size_t>(channels),
               "normalization: %zu means and %zu stds for %d channels", mean.size(), std.size(), channels);
  for (int c = 0; c < channels; ++c)
    PNEUMA_CHECK(std::isfinite(mean[c]) && std::isfinite(std[c]) && std[c] > 0,
                 "normalization: channel %d has mean %g and std %g (std must be positive)", c, mean[c], std[c]);
  PNEUMA_CHECK(height >= 1 && width >= 1 && height <= 8192 && width <= 8192, "normalization: size %dx%d", height,
               width);
  PNEUMA_CHECK(center_crop_fraction > 0 && center_crop_fraction <= 1,
               "normalization: center_crop_fraction %g outside (0, 1]", center_crop_fraction);
}

data::PreprocessOptions Normalization::preprocess_options() const {
  validate();
  data::PreprocessOptions options;
  options.height = height;
  options.width = width;
  options.channels = channels;
  options.center_crop_fraction = center_crop_fraction;
  for (int c = 0; c < channels; ++c) {
    options.mean[c] = static_cast<float>(mean[c]);
    options.std[c] = static_cast<float>(std[c]);
  }
  return options;
}

void to_json(Json& json, const Normalization& n) {
  json = Json{{"name", n.name},
              {"channels", n.channels},
              {"mean", n.mean},
              {"std", n.std},
              {"height", n.height},
              {"width", n.width},
              {"center_crop_fraction", n.center_crop_fraction},
              {"resize", kResizePolicy}};
}

void from_json(const Json& json, Normalization& n) {
  PNEUMA_CHECK(json.is_object(), "normalization: expected a JSON object");
  Normalization parsed;
  try {
    for (const auto& [key, value] : json.items()) {
      if (key == "name")
        parsed.name = value.get<std::string>();
      else if (key == "channels")
        parsed.channels = value.get<int>();
      else if (key == "mean")
        parsed.mean = value.get<std::vector<double>>();
      else if (key == "std")
        parsed.std = value.get<std::vector<double>>();
      else if (key == "height")
        parsed.height = value.get<int>();
      else if (key == "width")
        parsed.width = value.get<int>();
      else if (key == "center_crop_fraction")
        parsed.center_crop_fraction = value.get<double>();
      else if (key == "resize")
        PNEUMA_CHECK(value.get<std::string>() == kResizePolicy,
                     "normalization: resize policy '%s' is not supported "
                     "(%s is)",
                     value.get<std::string>().c_str(), kResizePolicy);
      else
        PNEUMA_FAIL("normalization: unknown key '%s'", key.c_str());
    }
  } catch (const Json::exception& e) {
    PNEUMA_FAIL("normalization: a value has the wrong type: %s", e.what());
  }
  PNEUMA_CHECK(json.contains("mean") && json.contains("std"), "normalization: 'mean' and 'std' are required");
  parsed.validate();
  n = parsed;
}

Tensor preprocess_image(const std::string& path, const Normalization& normalization) {
  return data::preprocess_file(path, normalization.preprocess_options());
}

Tensor preprocess_images(const std::vector<std::string>& paths, const Normalization& normalization) {
  PNEUMA_CHECK(!paths.empty(), "preprocess_images: no images");
  const data::PreprocessOptions options = normalization.preprocess_options();
  const int64_t per_image = static_cast<int64_t>(options.height) * options.width * options.channels;
  Tensor batch = Tensor::empty({static_cast<int64_t>(paths.size()), options.height, options.width, options.channels});
  for (size_t i = 0; i < paths.size(); ++i) {
    const Tensor one = data::preprocess_file(paths[i], options);
    std::memcpy(batch.data<float>() + static_cast<int64_t>(i) * per_image, one.data<float>(),
                static_cast<size_t>(per_image) * sizeof(float));
  }
  return batch;
}

}  // namespace pneuma::weights_import
