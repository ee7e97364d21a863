// Charts of ClassificationMetrics as SVG strings: confusion matrix (counts or row-normalised), ROC curves and PR
// curves (one line per class, AUC/AP in the legend), and writers for the standalone confusion_matrix.svg, roc.svg
// and pr.svg files (atomic). ROC/PR charts need metrics computed with keep_curves.
#pragma once
#include <string>

#include "engine/metrics/classification_metrics.h"

namespace pneuma::report {

std::string confusion_matrix_svg(const metrics::ClassificationMetrics& metrics, bool row_normalised);
std::string roc_curves_svg(const metrics::ClassificationMetrics& metrics);
std::string precision_recall_curves_svg(const metrics::ClassificationMetrics& metrics);

void write_confusion_matrix_svg(const std::string& path, const metrics::ClassificationMetrics& metrics,
                                bool row_normalised = false);
void write_roc_svg(const std::string& path, const metrics::ClassificationMetrics& metrics);
void write_pr_svg(const std::string& path, const metrics::ClassificationMetrics& metrics);

}  // namespace pneuma::report
