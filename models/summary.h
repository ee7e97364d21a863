// The layer table of `pneuma info`: one forward pass of a batch of one zero image at the given resolution, in eval
// mode under NoGradGuard, observed through models/forward_trace.h. A row is a module that ran and ran no traced
// module inside it (a convolution, a batch norm, an activation, a squeeze-excitation, the pooling, a dense layer …),
// in the order it finished, with its output shape and its parameters (its whole subtree's).
//
// Cost is counted in multiply-adds (MACs) of convolutions and fully connected layers, the convention of the
// MobileNet and EfficientNet papers ("300M multiply-adds"): a convolution costs N·H_out·W_out·C_out·k_h·k_w·C_in/groups,
// a linear layer N·in·out, a squeeze-excitation its two 1×1 layers. Batch norm, activations, additions and pooling
// are not counted. FLOPs = 2 · MACs.
#pragma once
#include <string>
#include <vector>

#include "models/image_classifier.h"

namespace pneuma::models {

struct LayerRow {
  std::string name, type;
  Shape output_shape;
  int64_t parameters = 0;
  int64_t multiply_adds = 0;
};

struct ModelSummary {
  std::string architecture;
  Shape input_shape;
  std::vector<LayerRow> rows;
  int64_t parameters = 0, trainable_parameters = 0, multiply_adds = 0;
};

// Leaves the model in the training mode it was in.
ModelSummary summarize(ImageClassifier& model, int64_t resolution);

std::string format_summary(const ModelSummary& summary);

}  // namespace pneuma::models
