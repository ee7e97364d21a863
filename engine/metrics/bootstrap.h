// Bootstrap percentile intervals for accuracy, macro F1, per-class recall and macro ROC AUC (the statistics and the
// resampling scheme are described in classification_metrics.h). A resample is represented by the multiplicity of
// each sample, and ROC AUCs are computed on score orders sorted once, so a resample costs O(N·K).
#pragma once
#include <cstdint>
#include <vector>

#include "engine/metrics/classification_metrics.h"

namespace pneuma::metrics {

// probabilities row-major [N, num_classes] (validated by the caller), labels in [0, num_classes).
BootstrapResults bootstrap_metrics(const std::vector<double>& probabilities, int64_t num_classes,
                                   const std::vector<int64_t>& labels, const BootstrapOptions& options);

}  // namespace pneuma::metrics
