#include "models/registry.h"

#include <functional>

#include "engine/nn/init.h"
#include "kernels/parallel.h"
#include "models/efficientnet_v1.h"
#include "models/efficientnet_v2.h"
#include "models/mobilenet_v2.h"

namespace pneuma::models {
namespace {

using Builder = std::function<std::shared_ptr<ImageClassifier>(const ModelConfig&, Generator&)>;

struct Architecture {
  const char* name;
  Builder build;
};

const std::vector<Architecture>& architectures() {
  static const std::vector<Architecture> table = {
      {"mobilenet_v2", build_mobilenet_v2},
      {"efficientnet_b0", [](const ModelConfig& c, Generator& g) { return build_efficientnet_b(0, c, g); }},
      {"efficientnet_b1", [](const ModelConfig& c, Generator& g) { return build_efficientnet_b(1, c, g); }},
      {"efficientnet_b2", [](const ModelConfig& c, Generator& g) { return build_efficientnet_b(2, c, g); }},
      {"efficientnet_b3", [](const ModelConfig& c, Generator& g) { return build_efficientnet_b(3, c, g); }},
      {"efficientnet_b4", [](const ModelConfig& c, Generator& g) { return build_efficientnet_b(4, c, g); }},
      {"efficientnet_b5", [](const ModelConfig& c, Generator& g) { return build_efficientnet_b(5, c, g); }},
      {"efficientnet_b6", [](const ModelConfig& c, Generator& g) { return build_efficientnet_b(6, c, g); }},
      {"efficientnet_b7", [](const ModelConfig& c, Generator& g) { return build_efficientnet_b(7, c, g); }},
      {"efficientnet_v2_s", [](const ModelConfig& c, Generator& g) { return build_efficientnet_v2("s", c, g); }},
      {"efficientnet_v2_m", [](const ModelConfig& c, Generator& g) { return build_efficientnet_v2("m", c, g); }},
      {"efficientnet_v2_l", [](const ModelConfig& c, Generator& g) { return build_efficientnet_v2("l", c, g); }},
      {"efficientnet_v2_b0", [](const ModelConfig& c, Generator& g) { return build_efficientnet_v2("b0", c, g); }},
      {"efficientnet_v2_b1", [](const ModelConfig& c, Generator& g) { return build_efficientnet_v2("b1", c, g); }},
      {"efficientnet_v2_b2", [](const ModelConfig& c, Generator& g) { return build_efficientnet_v2("b2", c, g); }},
      {"efficientnet_v2_b3", [](const ModelConfig& c, Generator& g) { return build_efficientnet_v2("b3", c, g); }},
  };
  return table;
}

// Sets this thread's OpenMP team size for the scope (omp_set_num_threads is per thread), restoring it after.
class ThreadCountScope {
 public:
  explicit ThreadCountScope(int threads) : previous_(kernels::max_threads()) { kernels::set_max_threads(threads); }
  ~ThreadCountScope() { kernels::set_max_threads(previous_); }
  ThreadCountScope(const ThreadCountScope&) = delete;
  ThreadCountScope& operator=(const ThreadCountScope&) = delete;

 private:
  int previous_;
};

}  // namespace

std::shared_ptr<ImageClassifier> create_model(const ModelConfig& config, Generator& generator) {
  for (const Architecture& architecture : architectures())
    if (config.architecture == architecture.name) return architecture.build(config, generator);
  std::string known;
  for (const Architecture& architecture : architectures())
    known += (known.empty() ? "" : ", ") + std::string(architecture.name);
  PNEUMA_FAIL("unknown architecture '%s' (known: %s)", config.architecture.c_str(), known.c_str());
}

std::shared_ptr<ImageClassifier> create_model_uninitialized(const ModelConfig& config) {
  // Without random draws, building is allocation and zero-filling: one thread does that at memory speed, where a
  // team woken for every tensor mostly waits (10× slower on a busy machine).
  ThreadCountScope one_thread(1);
  nn::init::SkipRandomInit skip;
  Generator unused(0);
  return create_model(config, unused);
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const Architecture& architecture : architectures()) names.emplace_back(architecture.name);
  return names;
}

}  // namespace pneuma::models
