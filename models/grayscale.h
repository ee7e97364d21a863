// Grayscale input for a model built (or imported) for RGB.
//
// adapt_first_conv_to_grayscale(model) replaces the stem convolution (model.stem_conv_name()) by one taking a
// single channel whose weight [out, kh, kw, 1] is the sum of the old weight over its input channels (bias kept).
// Convolution is linear in its input, so the adapted model on a one-channel image g gives exactly what the original
// gave on the three-channel image (g, g, g): pretrained RGB features carry over to gray X-rays without tripling
// the input (timm's adapt_input_conv does the same for in_chans=1). The equivalence needs the three normalised
// channels to be equal — true for x/127.5 − 1; with per-channel ImageNet statistics, normalise gray with their
// averages. Afterwards model.in_channels() is 1. The new weight keeps the old one's requires_grad, dtype and
// device; optimizers built before hold the old tensors, so build them after. A model that already takes one channel
// is left as it is.
#pragma once
#include "models/image_classifier.h"

namespace pneuma::models {

void adapt_first_conv_to_grayscale(ImageClassifier& model);

}  // namespace pneuma::models
