// One self-contained HTML file for a run: inline CSS and inline SVG charts, images as data: URIs, no scripts and no
// reference to anything outside the file. Sections: summary, training curves (loss, accuracy/metrics, learning
// rate), metrics table with confidence intervals, per-class recall, confusion matrix (counts and row-normalised),
// ROC and PR curves per class, dataset summary, configuration, images.
#pragma once
#include <string>

#include "engine/report/run_report.h"

namespace pneuma::report {

std::string render_report_html(const RunReport& report);
// render_report_html, written atomically (temporary file + rename).
void write_report_html(const std::string& path, const RunReport& report);

}  // namespace pneuma::report
