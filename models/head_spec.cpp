#include "models/head_spec.h"

#include <cctype>
#include <cstdlib>

#include "engine/nn/dropout.h"
#include "models/blocks/dense.h"

namespace pneuma::models {
namespace {

class SpecParser {
 public:
  explicit SpecParser(const std::string& spec) : spec_(spec) {}

  std::vector<HeadLayerSpec> parse() {
    std::vector<HeadLayerSpec> layers;
    skip_spaces();
    if (at_end()) fail("the spec is empty (expected e.g. dropout(0.2)-dense(1024,relu)-dense)");
    while (true) {
      layers.push_back(layer());
      skip_spaces();
      if (at_end()) break;
      expect('-', "\"-\" between layers");
    }
    for (size_t i = 0; i + 1 < layers.size(); ++i)
      if (layers[i].kind == HeadLayerSpec::Kind::dense && layers[i].units < 0) {
        position_ = layer_positions_[i];
        fail("the bare \"dense\" (the output layer) must be the last layer");
      }
    if (layers.back().kind != HeadLayerSpec::Kind::dense || layers.back().units >= 0) {
      position_ = spec_.size();
      fail("the spec must end with the output layer \"dense\"");
    }
    return layers;
  }

 private:
  HeadLayerSpec layer() {
    skip_spaces();
    const size_t start = position_;
    std::string name;
    while (!at_end() && std::isalpha(static_cast<unsigned char>(spec_[position_]))) name += spec_[position_++];
    HeadLayerSpec result;
    if (name == "dropout") {
      result.kind = HeadLayerSpec::Kind::dropout;
      expect('(', "\"(\" after dropout");
      const size_t rate_position = position_;
      result.rate = number();
      if (!(result.rate >= 0 && result.rate < 1)) {
        position_ = rate_position;
        fail("the dropout rate must be in [0, 1)");
      }
      expect(')', "\")\" closing dropout(");
    } else if (name == "dense") {
      result.kind = HeadLayerSpec::Kind::dense;
      skip_spaces();
      if (!at_end() && spec_[position_] == '(') {
        ++position_;
        const size_t units_position = position_;
        const double units = number();
        if (!(units >= 1 && units == static_cast<double>(static_cast<int64_t>(units)))) {
          position_ = units_position;
          fail("dense units must be a positive integer");
        }
        result.units = static_cast<int64_t>(units);
        skip_spaces();
        if (!at_end() && spec_[position_] == ',') {
          ++position_;
          result.activation = activation();
        }
        expect(')', "\")\" closing dense(");
      }
    } else {
      position_ = start;
      fail(name.empty() ? "expected a layer (dropout or dense)"
                        : "unknown layer \"" + name + "\" (expected dropout or dense)");
    }
    layer_positions_.push_back(start);
    return result;
  }

  kernels::Activation activation() {
    skip_spaces();
    const size_t start = position_;
    std::string name;
    while (!at_end() && (std::isalnum(static_cast<unsigned char>(spec_[position_])) || spec_[position_] == '_'))
      name += spec_[position_++];
    using kernels::Activation;
    if (name == "relu") return Activation::relu;
    if (name == "relu6") return Activation::relu6;
    if (name == "silu" || name == "swish") return Activation::silu;
    if (name == "gelu") return Activation::gelu;
    if (name == "sigmoid") return Activation::sigmoid;
    if (name == "tanh") return Activation::tanh;
    if (name == "linear") return Activation::identity;
    position_ = start;
    fail("unknown activation \"" + name + "\" (expected relu, relu6, silu, swish, gelu, sigmoid, tanh or linear)");
  }

  double number() {
    skip_spaces();
    const char* begin = spec_.c_str() + position_;
    char* end = nullptr;
    const double value = std::strtod(begin, &end);
    if (end == begin) fail("expected a number");
    position_ += static_cast<size_t>(end - begin);
    return value;
  }

  void expect(char c, const std::string& what) {
    skip_spaces();
    if (at_end() || spec_[position_] != c) fail("expected " + what);
    ++position_;
  }

  void skip_spaces() {
    while (!at_end() && std::isspace(static_cast<unsigned char>(spec_[position_]))) ++position_;
  }
  bool at_end() const { return position_ >= spec_.size(); }

  [[noreturn]] void fail(const std::string& message) const {
    PNEUMA_FAIL("head spec, character %zu: %s: %s<HERE>%s", position_ + 1, message.c_str(),
                spec_.substr(0, position_).c_str(), spec_.substr(position_).c_str());
  }

  const std::string& spec_;
  size_t position_ = 0;
  std::vector<size_t> layer_positions_;
};

}  // namespace

std::vector<HeadLayerSpec> parse_head_spec(const std::string& spec) { return SpecParser(spec).parse(); }

std::shared_ptr<Sequence> build_head(const std::string& spec, int64_t in_features, int64_t classes,
                                     Generator& generator) {
  auto head = std::make_shared<Sequence>();
  int64_t features = in_features;
  for (const HeadLayerSpec& layer : parse_head_spec(spec)) {
    if (layer.kind == HeadLayerSpec::Kind::dropout) {
      head->push_back(std::make_shared<nn::Dropout>(layer.rate));
      continue;
    }
    const int64_t units = layer.units < 0 ? classes : layer.units;
    head->push_back(std::make_shared<Dense>(features, units, layer.activation, 0.0, DenseInit::glorot_uniform, generator));
    features = units;
  }
  return head;
}

}  // namespace pneuma::models
