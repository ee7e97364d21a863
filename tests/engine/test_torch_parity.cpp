// Every op in engine/ops.h against PyTorch: for each fixture written by tools/make_torch_reference.py
// (tests/fixtures/torch_reference/<op>_<case>.safetensors) run our op on the stored inputs with the stored
// parameters, backpropagate the stored grad_output, and compare the output, every gradient and any in-place state
// with |got − ref| ≤ 1e-5 + 1e-4·|ref| (float32). One parameterised test per fixture: a failure names op and case.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/ops.h"
#include "engine/safetensors.h"

namespace pneuma {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr double kAbsoluteTolerance = 1e-5;
constexpr double kRelativeTolerance = 1e-4;

// Every function of engine/ops.h (the inline activation shorthands are covered through `activation`).
const std::vector<std::string> kOpsInOpsHeader = {
    "conv2d",         "linear",      "batch_norm",    "activation",       "global_avg_pool",   "channel_scale",
    "add",            "subtract",    "multiply",      "divide",           "scale",             "sum",
    "mean",           "reshape",     "flatten",       "concat",           "max_pool2d",        "avg_pool2d",
    "dropout",        "drop_path",   "softmax",       "log_softmax",      "cross_entropy",     "bce_with_logits",
    "binary_focal_loss", "focal_loss", "add_in_place", "scale_in_place", "sum_of_squares",    "all_finite"};

std::string fixture_directory() { return std::string(PNEUMA_SOURCE_DIR) + "/tests/fixtures/torch_reference"; }

// File stems, sorted: "conv2d_stride2_same", ...
std::vector<std::string> fixture_names() {
  std::vector<std::string> names;
  if (!fs::is_directory(fixture_directory())) return names;
  for (const auto& entry : fs::directory_iterator(fixture_directory()))
    if (entry.path().extension() == ".safetensors") names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

// ---- running one fixture ------------------------------------------------------------------------
// The stored inputs as fresh leaves (requiring a gradient exactly when the fixture holds one for them), and what
// the op produced.
class OpRun {
 public:
  explicit OpRun(const SafetensorsFile& file) : file_(file) {}

  Tensor input(const std::string& name) {
    Tensor leaf = file_.at("input." + name).clone();
    if (file_.contains("grad." + name)) leaf.set_requires_grad(true);
    leaves[name] = leaf;
    return leaf;
  }
  Tensor optional_input(const std::string& name) {
    return file_.contains("input." + name) ? input(name) : Tensor();
  }
  Tensor class_targets(const std::string& name) { return input(name).to(DType::i32); }  // stored as int64

  Tensor output;
  std::map<std::string, Tensor> leaves;
  std::map<std::string, Tensor> after;  // state updated in place, compared with after.<name>

 private:
  const SafetensorsFile& file_;
};

Padding2d padding_from(const Json& value) {
  if (value.is_string()) {
    EXPECT_EQ(value.get<std::string>(), "same");
    return Padding2d::same();
  }
  return Padding2d::sides(value[0], value[1], value[2], value[3]);
}

Pool2dOptions pool_options(const Json& p) {
  Pool2dOptions options;
  options.kernel_height = p["kernel"][0];
  options.kernel_width = p["kernel"][1];
  options.stride_height = p["stride"][0];
  options.stride_width = p["stride"][1];
  options.padding = padding_from(p["padding"]);
  options.count_include_pad = p.value("count_include_pad", true);
  return options;
}

kernels::Activation activation_from(const std::string& name) {
  using kernels::Activation;
  for (Activation kind : {Activation::identity, Activation::relu, Activation::relu6, Activation::sigmoid,
                          Activation::silu, Activation::hard_sigmoid, Activation::hard_swish, Activation::gelu,
                          Activation::gelu_tanh, Activation::tanh})
    if (name == kernels::activation_name(kind)) return kind;
  PNEUMA_FAIL("unknown activation '%s'", name.c_str());
}

using Runner = std::function<void(OpRun&, const Json&)>;

Runner binary(Tensor (*op)(const Tensor&, const Tensor&)) {
  return [op](OpRun& r, const Json&) { r.output = op(r.input("a"), r.input("b")); };
}

const std::map<std::string, Runner>& runners() {
  static const std::map<std::string, Runner> table = {
      {"conv2d",
       [](OpRun& r, const Json& p) {
         Conv2dOptions options;
         options.stride_height = p["stride"][0];
         options.stride_width = p["stride"][1];
         options.padding = padding_from(p["padding"]);
         options.dilation_height = p["dilation"][0];
         options.dilation_width = p["dilation"][1];
         options.groups = p["groups"];
         r.output = conv2d(r.input("x"), r.input("weight"), r.optional_input("bias"), options);
       }},
      {"linear",
       [](OpRun& r, const Json&) { r.output = linear(r.input("x"), r.input("weight"), r.optional_input("bias")); }},
      {"batch_norm",
       [](OpRun& r, const Json& p) {
         Tensor running_mean = r.optional_input("running_mean");
         Tensor running_variance = r.optional_input("running_variance");
         r.output = batch_norm(r.input("x"), r.optional_input("gamma"), r.optional_input("beta"), running_mean,
                               running_variance, p["use_batch_statistics"], p["momentum"], p["eps"]);
         if (running_mean.defined()) r.after["running_mean"] = running_mean;
         if (running_variance.defined()) r.after["running_variance"] = running_variance;
       }},
      {"activation",
       [](OpRun& r, const Json& p) {
         r.output = activation(r.input("x"), activation_from(p["kind"].get<std::string>()));
       }},
      {"global_avg_pool", [](OpRun& r, const Json&) { r.output = global_avg_pool(r.input("x")); }},
      {"channel_scale", [](OpRun& r, const Json&) { r.output = channel_scale(r.input("x"), r.input("scale")); }},
      {"add", binary(add)},
      {"subtract", binary(subtract)},
      {"multiply", binary(multiply)},
      {"divide", binary(divide)},
      {"scale", [](OpRun& r, const Json& p) { r.output = scale(r.input("x"), p["alpha"]); }},
      {"sum", [](OpRun& r, const Json&) { r.output = sum(r.input("x")); }},
      {"mean", [](OpRun& r, const Json&) { r.output = mean(r.input("x")); }},
      {"reshape", [](OpRun& r, const Json& p) { r.output = reshape(r.input("x"), p["shape"].get<Shape>()); }},
      {"flatten", [](OpRun& r, const Json& p) { r.output = flatten(r.input("x"), p["start_axis"]); }},
      {"concat",
       [](OpRun& r, const Json& p) {
         std::vector<Tensor> parts;
         for (int i = 0; i < p["count"].get<int>(); ++i) {
           std::string name = "x";  // x0, x1, ...
           name += std::to_string(i);
           parts.push_back(r.input(name));
         }
         r.output = concat(parts, p["axis"]);
       }},
      {"max_pool2d", [](OpRun& r, const Json& p) { r.output = max_pool2d(r.input("x"), pool_options(p)); }},
      {"avg_pool2d", [](OpRun& r, const Json& p) { r.output = avg_pool2d(r.input("x"), pool_options(p)); }},
      {"dropout",
       [](OpRun& r, const Json& p) {
         Generator generator(11);
         r.output = dropout(r.input("x"), p["p"], p["training"], generator);
       }},
      {"drop_path",
       [](OpRun& r, const Json& p) {
         Generator generator(11);
         r.output = drop_path(r.input("x"), p["p"], p["training"], generator);
       }},
      {"softmax", [](OpRun& r, const Json&) { r.output = softmax(r.input("x")); }},
      {"log_softmax", [](OpRun& r, const Json&) { r.output = log_softmax(r.input("x")); }},
      {"cross_entropy",
       [](OpRun& r, const Json& p) {
         CrossEntropyOptions options;
         options.class_weights = r.optional_input("class_weights");
         options.label_smoothing = p["label_smoothing"];
         r.output = cross_entropy(r.input("logits"), r.class_targets("targets"), options);
       }},
      {"bce_with_logits",
       [](OpRun& r, const Json&) {
         r.output = bce_with_logits(r.input("logits"), r.input("targets"), r.optional_input("pos_weight"));
       }},
      {"binary_focal_loss",
       [](OpRun& r, const Json& p) {
         r.output = binary_focal_loss(r.input("logits"), r.input("targets"), p["alpha"], p["gamma"]);
       }},
      {"focal_loss",
       [](OpRun& r, const Json& p) {
         r.output = focal_loss(r.input("logits"), r.class_targets("targets"), r.optional_input("alpha"), p["gamma"]);
       }},
      {"add_in_place",
       [](OpRun& r, const Json&) {
         Tensor destination = r.input("destination");
         add_in_place(destination, r.input("source"));
         r.output = destination;
       }},
      {"scale_in_place",
       [](OpRun& r, const Json& p) {
         Tensor x = r.input("x");
         scale_in_place(x, p["alpha"]);
         r.output = x;
       }},
      {"sum_of_squares",
       [](OpRun& r, const Json&) { r.output = Tensor::scalar(sum_of_squares(r.input("x")), DType::f64); }},
      {"all_finite",
       [](OpRun& r, const Json&) {
         r.output = Tensor::from_vector<uint8_t>({static_cast<uint8_t>(all_finite(r.input("x")))}, {});
       }},
  };
  return table;
}

// ---- comparison ---------------------------------------------------------------------------------
// Empty when `got` matches `reference` within tolerance; otherwise one line with the error figures.
std::string compare(const std::string& what, const Tensor& got, const Tensor& reference) {
  std::ostringstream problem;
  if (!got.defined()) return what + ": not produced (no gradient reached this input?)";
  if (got.shape() != reference.shape())
    return what + ": shape " + shape_string(got.shape()) + ", PyTorch " + shape_string(reference.shape());
  if (got.dtype() != reference.dtype())
    return what + ": dtype " + dtype_name(got.dtype()) + ", PyTorch " + dtype_name(reference.dtype());
  const std::vector<double> g = got.to_vector<double>(), ref = reference.to_vector<double>();
  double max_abs = 0, max_rel = 0, error_energy = 0, reference_energy = 0;
  size_t violations = 0, worst = 0;
  double worst_excess = -1;
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(ref[i]) && std::isnan(g[i])) continue;
    const double difference = std::abs(g[i] - ref[i]);
    const double allowed = kAbsoluteTolerance + kRelativeTolerance * std::abs(ref[i]);
    const bool ok = difference <= allowed;  // false for NaN
    max_abs = std::max(max_abs, std::isnan(difference) ? INFINITY : difference);
    if (ref[i] != 0) max_rel = std::max(max_rel, difference / std::abs(ref[i]));
    error_energy += difference * difference;
    reference_energy += ref[i] * ref[i];
    const double excess = ok ? 0 : (std::isnan(difference) ? INFINITY : difference / allowed);
    if (!ok) ++violations;
    if (excess > worst_excess) {
      worst_excess = excess;
      worst = i;
    }
  }
  if (violations == 0) return "";
  const double nmse = reference_energy > 0 ? error_energy / reference_energy : error_energy;
  problem << what << " " << shape_string(reference.shape()) << ": " << violations << " of " << g.size()
          << " elements outside |got-ref| <= " << kAbsoluteTolerance << " + " << kRelativeTolerance
          << "*|ref|; max abs " << max_abs << ", max rel " << max_rel << ", NMSE " << nmse << "; worst at flat index "
          << worst << ": got " << g[worst] << ", PyTorch " << ref[worst];
  return problem.str();
}

// ---- the tests ----------------------------------------------------------------------------------
class Fixture : public testing::TestWithParam<std::string> {};

TEST_P(Fixture, MatchesPyTorch) {
  const std::string path = fixture_directory() + "/" + GetParam() + ".safetensors";
  const SafetensorsFile file = read_safetensors(path);
  const std::string op = file.metadata.at("op");
  const Json params = Json::parse(file.metadata.at("params"));
  SCOPED_TRACE(op + " case " + file.metadata.at("case") + " params " + params.dump());
  const auto runner = runners().find(op);
  ASSERT_NE(runner, runners().end()) << "no runner for op " << op;

  OpRun run(file);
  runner->second(run, params);
  ASSERT_TRUE(run.output.defined());
  if (file.contains("grad_output")) run.output.backward(file.at("grad_output"));

  std::vector<std::string> problems;
  auto check = [&](const std::string& what, const Tensor& got, const Tensor& reference) {
    if (std::string problem = compare(what, got, reference); !problem.empty()) problems.push_back(problem);
  };
  check("output", run.output, file.at("output"));
  for (const NamedTensor& stored : file.tensors) {
    const std::string& name = stored.name;
    if (name.rfind("grad.", 0) == 0) {
      const std::string input = name.substr(5);
      ASSERT_TRUE(run.leaves.count(input)) << "fixture has " << name << " but the runner never used input." << input;
      check(name, run.leaves[input].grad(), stored.tensor);
    } else if (name.rfind("after.", 0) == 0) {
      const std::string state = name.substr(6);
      ASSERT_TRUE(run.after.count(state)) << "fixture has " << name << " but the runner does not report it";
      check(name, run.after[state], stored.tensor);
    }
  }
  for (const auto& [name, leaf] : run.leaves)
    EXPECT_TRUE(file.contains("input." + name)) << "runner made up input " << name;
  for (const std::string& problem : problems) ADD_FAILURE() << GetParam() << ": " << problem;
}

INSTANTIATE_TEST_SUITE_P(TorchParity, Fixture, testing::ValuesIn(fixture_names()),
                         [](const testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(TorchParityCoverage, EveryOpInOpsHeaderHasAFixture) {
  std::map<std::string, int> fixtures_per_op;
  for (const std::string& name : fixture_names())
    fixtures_per_op[read_safetensors(fixture_directory() + "/" + name + ".safetensors").metadata.at("op")]++;
  for (const std::string& op : kOpsInOpsHeader) {
    EXPECT_GT(fixtures_per_op[op], 0) << op << " has no fixture: add a case to tools/make_torch_reference.py";
    EXPECT_TRUE(runners().count(op)) << op << " has no runner in this test";
  }
  for (const auto& [op, count] : fixtures_per_op)
    EXPECT_NE(std::find(kOpsInOpsHeader.begin(), kOpsInOpsHeader.end(), op), kOpsInOpsHeader.end())
        << "fixtures for " << op << ", which is not in the list of engine/ops.h functions";
}

TEST(TorchParityCoverage, EveryActivationKindHasAFixture) {
  std::set<std::string> kinds;
  for (const std::string& name : fixture_names()) {
    const SafetensorsFile file = read_safetensors(fixture_directory() + "/" + name + ".safetensors");
    if (file.metadata.at("op") == "activation") kinds.insert(Json::parse(file.metadata.at("params"))["kind"]);
  }
  using kernels::Activation;
  for (Activation kind : {Activation::relu, Activation::relu6, Activation::sigmoid, Activation::silu,
                          Activation::hard_sigmoid, Activation::hard_swish, Activation::gelu, Activation::gelu_tanh,
                          Activation::tanh})
    EXPECT_TRUE(kinds.count(kernels::activation_name(kind))) << kernels::activation_name(kind);
}

}  // namespace
}  // namespace pneuma
