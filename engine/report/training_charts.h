// Charts of a run's per-epoch history: loss (train vs val), accuracy and validation metrics, learning rate.
#pragma once
#include <string>
#include <vector>

#include "engine/report/run_report.h"

namespace pneuma::report {

// Whether any epoch has a finite value for the chart (the report leaves out charts with nothing to show).
bool history_has_loss(const std::vector<EpochRecord>& history);
bool history_has_metrics(const std::vector<EpochRecord>& history);
bool history_has_learning_rate(const std::vector<EpochRecord>& history);

std::string loss_curves_svg(const std::vector<EpochRecord>& history);
std::string metric_curves_svg(const std::vector<EpochRecord>& history);  // accuracy, val macro F1, val macro AUC
std::string learning_rate_svg(const std::vector<EpochRecord>& history);

}  // namespace pneuma::report
