// Stratified, group-disjoint, seeded splits (see splits.h).
#include "engine/data/splits.h"

#include <algorithm>
#include <array>
#include <limits>
#include <map>

#include "engine/data/random.h"
#include "kernels/error.h"

namespace pneuma::data {
namespace {

const std::string& key_of(const Sample& sample, const std::string& group_by) {
  static const std::string none;
  if (group_by == "patient_id") return sample.patient_id;
  if (group_by == "group") return sample.group;
  return none;
}

// Divides `pool` into train / val / test with the given fractions (of the pool), whole groups at a time.
std::array<std::vector<size_t>, 3> carve(const Dataset& dataset, const std::vector<size_t>& pool,
                                         const std::array<double, 3>& fractions, const std::string& group_by,
                                         uint64_t seed) {
  std::array<std::vector<size_t>, 3> parts;
  if (fractions[1] == 0 && fractions[2] == 0) {
    parts[0] = pool;
    return parts;
  }
  // Groups in key order; a sample without a key is a group of its own.
  std::map<std::string, std::vector<size_t>> keyed;
  std::vector<std::vector<size_t>> groups;
  for (size_t i : pool) {
    const std::string& key = key_of(dataset.samples[i], group_by);
    if (key.empty())
      groups.push_back({i});
    else
      keyed[key].push_back(i);
  }
  for (auto& [key, members] : keyed) groups.push_back(std::move(members));
  // Largest groups first (they are the hardest to place); equal sizes in seeded random order.
  const std::vector<size_t> rank = random_permutation(groups.size(), seed, RandomStream::split_groups, 0);
  std::vector<size_t> order(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) order[g] = g;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (groups[a].size() != groups[b].size()) return groups[a].size() > groups[b].size();
    return rank[a] < rank[b];
  });

  const size_t classes = dataset.class_names.size();
  const std::vector<int64_t> total = class_counts(dataset, pool);
  std::array<std::vector<double>, 3> target, have;
  for (int s = 0; s < 3; ++s) {
    target[s].resize(classes);
    have[s].assign(classes, 0.0);
    for (size_t c = 0; c < classes; ++c) target[s][c] = fractions[s] * static_cast<double>(total[c]);
  }
  std::vector<double> counts(classes);
  for (size_t g : order) {
    std::fill(counts.begin(), counts.end(), 0.0);
    for (size_t i : groups[g]) counts[dataset.samples[i].label] += 1;
    // The split whose per-class quotas, relative to their size, this group fills most.
    int best = -1;
    double best_score = -std::numeric_limits<double>::infinity();
    for (int s = 0; s < 3; ++s) {
      if (fractions[s] <= 0) continue;
      double score = 0;
      for (size_t c = 0; c < classes; ++c)
        if (counts[c] > 0) score += counts[c] * (target[s][c] - have[s][c]) / target[s][c];
      if (score > best_score) {
        best_score = score;
        best = s;
      }
    }
    for (size_t c = 0; c < classes; ++c) have[best][c] += counts[c];
    parts[best].insert(parts[best].end(), groups[g].begin(), groups[g].end());
  }
  return parts;
}

}  // namespace

std::string resolve_group_by(const Dataset& dataset, const std::string& group_by) {
  const auto any = [&](auto member) {
    return std::any_of(dataset.samples.begin(), dataset.samples.end(),
                       [&](const Sample& s) { return !(s.*member).empty(); });
  };
  if (group_by == "none") return "none";
  if (group_by == "patient_id" || group_by == "group") {
    PNEUMA_CHECK(any(group_by == "patient_id" ? &Sample::patient_id : &Sample::group),
                 "splits grouped by %s, but no sample of %s has one", group_by.c_str(), dataset.root.c_str());
    return group_by;
  }
  PNEUMA_CHECK(group_by == "auto", "split grouping '%s' is not one of auto, patient_id, group, none",
               group_by.c_str());
  if (any(&Sample::patient_id)) return "patient_id";
  if (any(&Sample::group)) return "group";
  return "none";
}

Splits make_splits(const Dataset& dataset, const SplitOptions& options) {
  PNEUMA_CHECK(options.val_fraction >= 0 && options.test_fraction >= 0 &&
                   options.val_fraction + options.test_fraction < 1,
               "split fractions val %g and test %g must be >= 0 and sum to less than 1", options.val_fraction,
               options.test_fraction);
  PNEUMA_CHECK(!dataset.samples.empty(), "cannot split %s: it has no samples", dataset.root.c_str());
  const std::string group_by = resolve_group_by(dataset, options.group_by);
  const bool existing =
      options.use_existing_splits &&
      std::any_of(dataset.samples.begin(), dataset.samples.end(), [](const Sample& s) { return !s.split.empty(); });

  Splits splits;
  std::vector<size_t> pool;
  std::array<double, 3> fractions = {0, 0, 0};
  if (existing) {
    // Predefined splits; samples without one count as train.
    for (size_t i = 0; i < dataset.samples.size(); ++i) {
      const std::string& split = dataset.samples[i].split;
      (split == "val" ? splits.val : split == "test" ? splits.test : pool).push_back(i);
    }
    if (options.val_fraction > 0 && splits.val.empty()) fractions[1] = options.val_fraction;
    if (options.test_fraction > 0 && splits.test.empty()) fractions[2] = options.test_fraction;
  } else {
    for (size_t i = 0; i < dataset.samples.size(); ++i) pool.push_back(i);
    fractions[1] = options.val_fraction;
    fractions[2] = options.test_fraction;
  }
  fractions[0] = 1 - fractions[1] - fractions[2];
  auto parts = carve(dataset, pool, fractions, group_by, options.seed);
  splits.train = std::move(parts[0]);
  splits.val.insert(splits.val.end(), parts[1].begin(), parts[1].end());
  splits.test.insert(splits.test.end(), parts[2].begin(), parts[2].end());
  for (auto* part : {&splits.train, &splits.val, &splits.test}) std::sort(part->begin(), part->end());

  const auto check_not_empty = [&](const std::vector<size_t>& part, const char* name, double fraction) {
    PNEUMA_CHECK(!part.empty(),
                 "the %s split of %s is empty: %zu samples (grouped by %s) give %s_fraction %g no whole group; "
                 "use a larger fraction or fewer/smaller groups",
                 name, dataset.root.c_str(), pool.size(), group_by.c_str(), name, fraction);
  };
  PNEUMA_CHECK(!splits.train.empty(), "the train split of %s is empty", dataset.root.c_str());
  if (options.val_fraction > 0) check_not_empty(splits.val, "val", options.val_fraction);
  if (options.test_fraction > 0) check_not_empty(splits.test, "test", options.test_fraction);
  return splits;
}

std::vector<std::string> groups_in_several_splits(const Dataset& dataset, const Splits& splits,
                                                  const std::string& group_by) {
  const std::string key = resolve_group_by(dataset, group_by);
  std::map<std::string, unsigned> seen;
  const std::vector<size_t>* parts[3] = {&splits.train, &splits.val, &splits.test};
  for (unsigned s = 0; s < 3; ++s)
    for (size_t i : *parts[s]) {
      const std::string& k = key_of(dataset.samples.at(i), key);
      if (!k.empty()) seen[k] |= 1u << s;
    }
  std::vector<std::string> shared;
  for (const auto& [k, mask] : seen)
    if (mask & (mask - 1)) shared.push_back(k);
  return shared;
}

std::string describe_splits(const Dataset& dataset, const Splits& splits) {
  std::string text;
  const std::pair<const char*, const std::vector<size_t>*> parts[3] = {
      {"train", &splits.train}, {"val", &splits.val}, {"test", &splits.test}};
  for (const auto& [name, part] : parts) {
    if (!text.empty()) text += ", ";
    text += std::string(name) + " " + std::to_string(part->size());
    if (part->empty()) continue;
    const std::vector<int64_t> counts = class_counts(dataset, *part);
    text += " (";
    for (size_t c = 0; c < counts.size(); ++c)
      text += (c ? ", " : "") + dataset.class_names[c] + " " + std::to_string(counts[c]);
    text += ")";
  }
  return text;
}

}  // namespace pneuma::data
