// Numerical parity of the zoo with PyTorch. For each case, tools/make_model_reference.py (run here, at test time,
// into <build>/model_reference/, reused while newer than the script) builds the torchvision (or timm) model with its
// own seeded random initialisation (batch norms: random affine parameters, running statistics of another random
// batch) and stores its float32 weights, a batch of 2 images, and — computed by PyTorch in float64 — the eval-mode
// logits and, in train mode with dropout and stochastic depth off, the logits, the cross-entropy loss and every
// parameter's gradient. We load the weights into our model (names 1:1, conv weights already [out, kh, kw, in]) and
// compare, with G = the largest reference gradient element and every gradient measured against
// max(its own max |ref|, 1e-4 · G) (gradients below that are rounding noise: e.g. a batch norm bias whose output
// reaches another train-mode batch norm only through linear layers has an exact gradient of 0):
//   float32 model  logits (eval and train) and loss   max |ours − ref| ≤ 1e-4 · max |ref| + 1e-5
//                  gradients                            ≤ max(2e-3, 4·s) relative, where s is the reference's
//                                                       gradient_sensitivity (their change under a 1e-6 relative
//                                                       perturbation of the parameters), when s ≤ 1e-2
//   float64 model  logits and loss                      ≤ 1e-9 · max |ref| + 1e-12
//                  gradients                            ≤ 1e-7 relative
// The float32 gradient check is skipped (and said so) for ReLU6 networks at this size: their train-mode batch norms
// over 2 × 2 × 2 values let a 1e-6 perturbation move gradients by ~10%, so float32 rounding alone decides which
// ReLU6 inputs sit on either side of a kink; float64 checks those gradients exactly.
// Default cases: mobilenet_v2 (PyTorch and TensorFlow-SAME padding), efficientnet_v2_s and efficientnet_b0, all at
// 64×64. Every other architecture runs with
//     PNEUMA_ALL_MODELS=1 build/tests/pneuma_tests --gtest_filter='*ModelParity*'
// (timm-layout cases also need a python with timm: PNEUMA_PYTHON=/path/to/python, default /usr/bin/python3).
// Skipped, with a message, only when that python cannot import torch.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/safetensors.h"
#include "models/registry.h"

namespace pneuma::models {
namespace {

namespace fs = std::filesystem;

struct ParityCase {
  const char* architecture;
  const char* layout;
  const char* padding;
  int resolution;
  bool default_case;  // false: only with PNEUMA_ALL_MODELS=1
};

std::string case_name(const ParityCase& c) {
  return std::string(c.architecture) + "_" + c.layout + "_" + c.padding + "_" + std::to_string(c.resolution);
}

// gtest prints the parameter of a failing or listed case with this.
void PrintTo(const ParityCase& c, std::ostream* out) { *out << case_name(c); }

std::string python() {
  const char* configured = std::getenv("PNEUMA_PYTHON");
  return configured != nullptr && *configured ? configured : "/usr/bin/python3";
}

bool python_imports(const std::string& module) {
  return std::system((python() + " -c 'import " + module + "' > /dev/null 2>&1").c_str()) == 0;
}

fs::path reference_directory() {
  return fs::path(PNEUMA_CLI_PATH).parent_path().parent_path() / "model_reference";
}

// Writes (or reuses) the reference file of `c`; returns its path, or "" with a failure recorded.
std::string reference_file(const ParityCase& c) {
  const fs::path script = fs::path(PNEUMA_SOURCE_DIR) / "tools" / "make_model_reference.py";
  const fs::path path = reference_directory() / (case_name(c) + ".safetensors");
  if (fs::exists(path) && fs::last_write_time(path) >= fs::last_write_time(script)) return path.string();
  fs::create_directories(reference_directory());
  const std::string command = python() + " " + script.string() + " --arch " + c.architecture + " --layout " +
                              c.layout + " --padding " + c.padding + " --resolution " +
                              std::to_string(c.resolution) + " --classes 10 --seed 0 --out " + path.string() +
                              " > " + path.string() + ".log 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream log_file(path.string() + ".log");
  const std::string log((std::istreambuf_iterator<char>(log_file)), std::istreambuf_iterator<char>());
  fs::remove(path.string() + ".log");
  if (status != 0) {
    ADD_FAILURE() << "reference script failed: " << command << "\n" << log;
    return "";
  }
  return path.string();
}

std::vector<double> values(const Tensor& tensor) { return tensor.to(DType::f64).to_vector<double>(); }

double max_abs(const Tensor& tensor) {
  double largest = 0;
  for (double value : values(tensor)) largest = std::max(largest, std::abs(value));
  return largest;
}

double max_difference(const Tensor& ours, const Tensor& reference) {
  EXPECT_EQ(ours.shape(), reference.shape());
  const std::vector<double> a = values(ours), b = values(reference);
  double worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

void expect_close(const std::string& what, const Tensor& ours, const Tensor& reference, double bound) {
  const double difference = max_difference(ours, reference), scale = max_abs(reference);
  EXPECT_LE(difference, bound) << what << ": max |diff| " << difference << ", max |ref| " << scale << " (relative "
                               << difference / std::max(scale, 1e-300) << ")";
}

// Our model with the reference's weights, converted to `dtype`.
std::shared_ptr<ImageClassifier> loaded_model(const ParityCase& c, const SafetensorsFile& reference, DType dtype) {
  ModelConfig config;
  config.architecture = c.architecture;
  config.layout = c.layout;
  config.padding = c.padding;
  config.classes = 10;
  config.dropout = 0;
  config.drop_path_rate = c.architecture == std::string("mobilenet_v2") ? -1 : 0;
  auto model = create_model_uninitialized(config);
  size_t loaded = 0;
  for (const NamedTensor& entry : reference.tensors) {
    if (entry.name.rfind("weight.", 0) != 0) continue;
    Tensor ours = model->find_tensor(entry.name.substr(7));
    if (!ours.defined() || ours.shape() != entry.tensor.shape()) {
      ADD_FAILURE() << "reference tensor " << entry.name << " " << shape_string(entry.tensor.shape())
                    << " has no counterpart of that shape in our " << c.architecture;
      return nullptr;
    }
    ours.copy_from(entry.tensor);
    ++loaded;
  }
  EXPECT_EQ(loaded, model->named_tensors().size()) << "the reference does not set every tensor of ours";
  model->to(dtype);
  return model;
}

struct Bounds {
  double output_relative, output_absolute, gradient_relative;  // gradient_relative < 0: gradients not compared
};

void check(const ParityCase& c, const SafetensorsFile& reference, DType dtype, const Bounds& bounds) {
  const auto model = loaded_model(c, reference, dtype);
  if (model == nullptr) return;
  const std::string label = std::string(dtype_name(dtype)) + " ";
  const Tensor images = reference.at("input").to(dtype);
  auto output_bound = [&](const Tensor& expected) {
    return bounds.output_relative * max_abs(expected) + bounds.output_absolute;
  };
  {
    model->eval();
    NoGradGuard no_grad;
    expect_close(label + "eval logits", (*model)(images), reference.at("logits"), output_bound(reference.at("logits")));
  }
  model->train();
  const Tensor logits = (*model)(images);
  expect_close(label + "train logits", logits, reference.at("train_logits"), output_bound(reference.at("train_logits")));
  const Tensor loss = cross_entropy(logits, reference.at("targets"));
  expect_close(label + "loss", loss, reference.at("loss"), output_bound(reference.at("loss")));
  if (bounds.gradient_relative < 0) return;
  loss.backward();
  double largest = 0;
  for (const auto& [name, parameter] : model->named_parameters()) {
    ASSERT_TRUE(reference.contains("grad." + name)) << name;
    largest = std::max(largest, max_abs(reference.at("grad." + name)));
  }
  for (const auto& [name, parameter] : model->named_parameters()) {
    ASSERT_TRUE(parameter.grad().defined()) << label << "no gradient for " << name;
    const Tensor& expected = reference.at("grad." + name);
    const double scale = std::max(max_abs(expected), 1e-4 * largest);
    expect_close(label + "gradient of " + name, parameter.grad(), expected, bounds.gradient_relative * scale);
  }
}

const ParityCase parity_cases[] = {
    {"mobilenet_v2", "torchvision", "symmetric", 64, true},
    {"mobilenet_v2", "torchvision", "same", 64, true},
    {"efficientnet_v2_s", "torchvision", "symmetric", 64, true},
    {"efficientnet_b0", "torchvision", "symmetric", 64, true},
    {"efficientnet_b1", "torchvision", "symmetric", 64, false},
    {"efficientnet_b2", "torchvision", "symmetric", 64, false},
    {"efficientnet_b3", "torchvision", "symmetric", 64, false},
    {"efficientnet_b4", "torchvision", "symmetric", 64, false},
    {"efficientnet_b5", "torchvision", "symmetric", 64, false},
    {"efficientnet_b6", "torchvision", "symmetric", 64, false},
    {"efficientnet_b7", "torchvision", "symmetric", 64, false},
    {"efficientnet_v2_m", "torchvision", "symmetric", 64, false},
    {"efficientnet_v2_l", "torchvision", "symmetric", 64, false},
    {"efficientnet_v2_b0", "torchvision", "symmetric", 64, false},
    {"efficientnet_v2_b3", "torchvision", "same", 64, false},
    {"efficientnet_v2_b0", "timm", "same", 64, false},
    {"efficientnet_v2_b1", "timm", "same", 64, false},
    {"efficientnet_v2_b2", "timm", "same", 64, false},
    {"efficientnet_v2_b3", "timm", "same", 64, false},
    {"efficientnet_b0", "torchvision", "same", 65, false},
};

class ModelParity : public testing::TestWithParam<ParityCase> {};

TEST_P(ModelParity, LogitsAndGradientsMatchPyTorch) {
  const ParityCase& c = GetParam();
  const char* all = std::getenv("PNEUMA_ALL_MODELS");
  if (!c.default_case && !(all != nullptr && std::string(all) == "1"))
    GTEST_SKIP() << "set PNEUMA_ALL_MODELS=1 to run " << case_name(c);
  if (!python_imports("torch"))
    GTEST_SKIP() << python() << " cannot import torch (scripts/install_deps.sh --with-torch installs it)";
  if (std::string(c.layout) == "timm" && !python_imports("timm"))
    GTEST_SKIP() << python() << " cannot import timm (set PNEUMA_PYTHON to a python that can)";
  const std::string path = reference_file(c);
  if (path.empty()) return;
  const SafetensorsFile reference = read_safetensors(path);
  const double sensitivity = std::stod(reference.metadata.at("gradient_sensitivity"));
  const bool float32_gradients = sensitivity <= 1e-2;
  if (!float32_gradients)
    std::printf("%s: float32 gradients not compared (a 1e-6 perturbation moves them by %.2g); float64 ones are\n",
                case_name(c).c_str(), sensitivity);
  check(c, reference, DType::f32, {1e-4, 1e-5, float32_gradients ? std::max(2e-3, 4 * sensitivity) : -1});
  check(c, reference, DType::f64, {1e-9, 1e-12, 1e-7});
}

INSTANTIATE_TEST_SUITE_P(Zoo, ModelParity, testing::ValuesIn(parity_cases),
                         [](const testing::TestParamInfo<ParityCase>& info) { return case_name(info.param); });

}  // namespace
}  // namespace pneuma::models
