// Train / validation / test splits that are stratified by class, never put one patient (or near-duplicate
// group) into two splits, and depend only on the seed. Predefined splits in the data are kept when asked.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/data/dataset.h"

namespace pneuma::data {

struct SplitOptions {
  double val_fraction = 0.1;   // of the pool the split is carved from (see make_splits)
  double test_fraction = 0.0;
  uint64_t seed = 0;
  bool use_existing_splits = true;
  // Grouping key: "patient_id" | "group" | "none"; "auto" = patient_id if any sample has one, else group if any
  // sample has one, else none. A sample whose key is empty is a group of its own.
  std::string group_by = "auto";
};

struct Splits {
  std::vector<size_t> train, val, test;  // indices into Dataset::samples, ascending
};

// With use_existing_splits and a dataset whose samples carry splits, the predefined splits are used; a split
// that is requested (fraction > 0) but absent from the data is carved out of the predefined train split.
// Otherwise all samples are pooled and divided by the fractions. Carving assigns whole groups, largest first
// (ties in seeded random order), each to the split whose per-class quota it helps most, so every split keeps
// the class proportions of the pool. A requested split that ends up empty (or an empty train split) is an
// error. The result is a pure function of (dataset, options).
Splits make_splits(const Dataset& dataset, const SplitOptions& options);

// The grouping key actually used for `group_by` ("patient_id", "group" or "none").
std::string resolve_group_by(const Dataset& dataset, const std::string& group_by);

// Group keys (per resolve_group_by) found in more than one split; empty when the splits are group-disjoint.
// Predefined splits are kept as the data defines them, so they may share keys (e.g. Kermany's file-name patient
// ids restart between its official train and test folders); make_splits never adds such a key.
std::vector<std::string> groups_in_several_splits(const Dataset& dataset, const Splits& splits,
                                                  const std::string& group_by);

// "train 4694 (normal 1207, ...), val 522 (...), test 624 (...)" for logs.
std::string describe_splits(const Dataset& dataset, const Splits& splits);

}  // namespace pneuma::data
