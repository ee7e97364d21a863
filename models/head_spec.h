// Head specs: a short string describing the layers after global average pooling, e.g. (the studies' heads)
//   dropout(0.2)-dense(1024,relu)-dense
//   dropout(0.2)-dense(512,relu)-dropout(0.2)-dense(64,relu)-dropout(0.2)-dense(32,relu)-dense
//
// Grammar (spaces are allowed around every token):
//   spec       := layer ( "-" layer )*
//   layer      := "dropout(" rate ")"                   rate in [0, 1)
//              |  "dense(" units [ "," activation ] ")"  units ≥ 1; no activation = linear
//              |  "dense"                               the output layer: `classes` units, no activation (logits)
//   activation := relu | relu6 | silu | swish | gelu | sigmoid | tanh | linear
// The spec must end with the bare "dense" and use it nowhere else. With classes = 1 the output is one logit (a
// binary sigmoid model; the loss is the trainer's choice).
//
// The built head is a Sequence whose child i is spec layer i: nn::Dropout for dropout(p), models::Dense (weight
// [out, in], bias [out], Keras' glorot_uniform initialisation, activation inside) for dense — one child per Keras
// layer, so "classifier.1.weight" is the first Dense of the spec above.
//
// A bad spec is one error naming the character (1-based) and marking it in the spec, e.g.
//   head spec, character 14: unknown layer "dens" (expected dropout or dense): dropout(0.2)-<HERE>dens(3)
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/rng.h"
#include "kernels/activation.h"
#include "models/sequence.h"

namespace pneuma::models {

struct HeadLayerSpec {
  enum class Kind { dropout, dense } kind = Kind::dense;
  double rate = 0;        // dropout
  int64_t units = -1;     // dense; -1 = the output layer (classes units)
  kernels::Activation activation = kernels::Activation::identity;
};

std::vector<HeadLayerSpec> parse_head_spec(const std::string& spec);

// The head for `spec` on `in_features` pooled features with `classes` outputs.
std::shared_ptr<Sequence> build_head(const std::string& spec, int64_t in_features, int64_t classes,
                                     Generator& generator = default_generator());

}  // namespace pneuma::models
