// Seeded bootstrap of accuracy, macro F1, per-class recall and macro ROC AUC with percentile intervals.
#include "engine/metrics/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "engine/rng.h"
#include "kernels/error.h"

namespace pneuma::metrics {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// For each class, the samples sorted by that class's score (descending) cut into groups of equal score.
struct ScoreOrder {
  std::vector<size_t> samples;
  std::vector<size_t> group_ends;  // exclusive end of each tie group in `samples`
};

std::vector<ScoreOrder> score_orders(const std::vector<double>& probabilities, int64_t num_classes, size_t n) {
  std::vector<ScoreOrder> orders(static_cast<size_t>(num_classes));
  for (int64_t c = 0; c < num_classes; ++c) {
    auto score = [&](size_t i) { return probabilities[i * static_cast<size_t>(num_classes) + c]; };
    ScoreOrder& order = orders[static_cast<size_t>(c)];
    order.samples.resize(n);
    std::iota(order.samples.begin(), order.samples.end(), size_t{0});
    std::stable_sort(order.samples.begin(), order.samples.end(),
                     [&](size_t a, size_t b) { return score(a) > score(b); });
    for (size_t k = 0; k < n; ++k)
      if (k + 1 == n || score(order.samples[k + 1]) != score(order.samples[k])) order.group_ends.push_back(k + 1);
  }
  return orders;
}

struct ResampleStatistics {
  double accuracy = kNaN, macro_f1 = kNaN, macro_roc_auc = kNaN;
  std::vector<double> recall;
};

// The statistics of the weighted sample set (weight = how often a sample was drawn). `required_classes` marks the
// classes present in the full set: when one of them is missing here, macro F1 and macro ROC AUC are undefined.
ResampleStatistics statistics(const std::vector<int64_t>& weights, const std::vector<int64_t>& labels,
                              const std::vector<int64_t>& predicted, const std::vector<ScoreOrder>& orders,
                              const std::vector<bool>& required_classes) {
  const size_t k = orders.size();
  std::vector<int64_t> support(k, 0), predicted_count(k, 0), true_positive(k, 0);
  int64_t total = 0, correct = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] == 0) continue;
    const auto truth = static_cast<size_t>(labels[i]), guess = static_cast<size_t>(predicted[i]);
    support[truth] += weights[i];
    predicted_count[guess] += weights[i];
    total += weights[i];
    if (truth == guess) {
      true_positive[truth] += weights[i];
      correct += weights[i];
    }
  }
  ResampleStatistics result;
  result.recall.assign(k, kNaN);
  if (total == 0) return result;
  result.accuracy = static_cast<double>(correct) / static_cast<double>(total);
  bool all_required_present = true;
  double f1_sum = 0.0;
  for (size_t c = 0; c < k; ++c) {
    if (required_classes[c] && support[c] == 0) all_required_present = false;
    const double tp = static_cast<double>(true_positive[c]);
    const double precision = predicted_count[c] > 0 ? tp / static_cast<double>(predicted_count[c]) : 0.0;
    const double recall = support[c] > 0 ? tp / static_cast<double>(support[c]) : 0.0;
    if (support[c] > 0) result.recall[c] = recall;
    f1_sum += precision + recall > 0.0 ? 2.0 * precision * recall / (precision + recall) : 0.0;
  }
  if (!all_required_present) return result;
  result.macro_f1 = f1_sum / static_cast<double>(k);

  double auc_sum = 0.0;
  int auc_classes = 0;
  for (size_t c = 0; c < k; ++c) {
    const int64_t positives = support[c], negatives = total - support[c];
    if (positives == 0 || negatives == 0) continue;
    const ScoreOrder& order = orders[c];
    int64_t doubled_area = 0, tp = 0;
    size_t begin = 0;
    for (size_t end : order.group_ends) {
      int64_t group_positive = 0, group_negative = 0;
      for (size_t s = begin; s < end; ++s) {
        const size_t i = order.samples[s];
        (static_cast<size_t>(labels[i]) == c ? group_positive : group_negative) += weights[i];
      }
      doubled_area += group_negative * (2 * tp + group_positive);
      tp += group_positive;
      begin = end;
    }
    auc_sum +=
        static_cast<double>(doubled_area) / (2.0 * static_cast<double>(positives) * static_cast<double>(negatives));
    ++auc_classes;
  }
  if (auc_classes > 0) result.macro_roc_auc = auc_sum / auc_classes;
  return result;
}

BootstrapEstimate estimate(double value, const std::vector<double>& samples, double confidence) {
  BootstrapEstimate result;
  result.value = value;
  result.valid_resamples = static_cast<int64_t>(samples.size());
  if (samples.empty()) {
    result.interval = {kNaN, kNaN};
    return result;
  }
  const double alpha = 1.0 - confidence;
  result.interval = {percentile(samples, alpha / 2.0), percentile(samples, 1.0 - alpha / 2.0)};
  return result;
}

void collect(double value, std::vector<double>& into) {
  if (!std::isnan(value)) into.push_back(value);
}

}  // namespace

BootstrapResults bootstrap_metrics(const std::vector<double>& probabilities, int64_t num_classes,
                                   const std::vector<int64_t>& labels, const BootstrapOptions& options) {
  PNEUMA_CHECK(options.resamples > 0, "bootstrap: resamples must be positive, got %lld",
               static_cast<long long>(options.resamples));
  PNEUMA_CHECK(options.confidence > 0.0 && options.confidence < 1.0, "bootstrap: confidence must be in (0, 1), got %g",
               options.confidence);
  const size_t n = labels.size(), k = static_cast<size_t>(num_classes);
  PNEUMA_CHECK(n > 0 && probabilities.size() == n * k, "bootstrap: %zu probabilities for %zu samples x %zu classes",
               probabilities.size(), n, k);

  for (size_t i = 0; i < n; ++i)
    PNEUMA_CHECK(labels[i] >= 0 && labels[i] < num_classes, "bootstrap: label of sample %zu is %lld, outside [0, %zu)",
                 i, static_cast<long long>(labels[i]), k);
  std::vector<int64_t> predicted(n);
  for (size_t i = 0; i < n; ++i) {
    const double* row = probabilities.data() + i * k;
    predicted[i] = std::max_element(row, row + k) - row;  // first maximum
  }
  std::vector<std::vector<size_t>> members(k);  // sample indices per true class
  for (size_t i = 0; i < n; ++i) members[static_cast<size_t>(labels[i])].push_back(i);
  std::vector<bool> present(k);
  for (size_t c = 0; c < k; ++c) present[c] = !members[c].empty();
  const std::vector<ScoreOrder> orders = score_orders(probabilities, num_classes, n);

  const ResampleStatistics full = statistics(std::vector<int64_t>(n, 1), labels, predicted, orders, present);

  std::vector<double> accuracy, macro_f1, macro_auc;
  std::vector<std::vector<double>> recall(k);
  Generator generator(options.seed);
  std::vector<int64_t> weights(n);
  for (int64_t r = 0; r < options.resamples; ++r) {
    std::fill(weights.begin(), weights.end(), 0);
    if (options.stratified) {
      for (const std::vector<size_t>& group : members)
        for (size_t draw = 0; draw < group.size(); ++draw)
          ++weights[group[static_cast<size_t>(generator.integer(0, static_cast<int64_t>(group.size())))]];
    } else {
      for (size_t draw = 0; draw < n; ++draw)
        ++weights[static_cast<size_t>(generator.integer(0, static_cast<int64_t>(n)))];
    }
    const ResampleStatistics s = statistics(weights, labels, predicted, orders, present);
    collect(s.accuracy, accuracy);
    collect(s.macro_f1, macro_f1);
    collect(s.macro_roc_auc, macro_auc);
    for (size_t c = 0; c < k; ++c) collect(s.recall[c], recall[c]);
  }

  BootstrapResults results;
  results.options = options;
  results.accuracy = estimate(full.accuracy, accuracy, options.confidence);
  results.macro_f1 = estimate(full.macro_f1, macro_f1, options.confidence);
  results.macro_roc_auc = estimate(full.macro_roc_auc, macro_auc, options.confidence);
  for (size_t c = 0; c < k; ++c) results.recall.push_back(estimate(full.recall[c], recall[c], options.confidence));
  return results;
}

}  // namespace pneuma::metrics
