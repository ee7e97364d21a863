// Leakage check: images that appear in two splits, either byte-identical (content hash) or visually near-identical,
// e.g. a re-encoded, resized or slightly brightened copy. A near pair needs both a 64-bit DCT perceptual hash
// within a Hamming distance AND a Pearson correlation of the 32×32 grayscale thumbnails of at least a minimum:
// chest X-rays all look alike to a 64-bit hash (on Kermany, ~10^4 pairs of different patients are within
// distance 8), while the thumbnail correlation of those stays below 0.975 and that of real copies above 0.99.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/data/dataset.h"
#include "engine/data/image.h"
#include "engine/data/splits.h"

namespace pneuma::data {

// pHash: luma resized (antialiased) to 32×32, 2-D DCT-II, the 8×8 lowest frequencies; bit i is set when
// coefficient i exceeds the median of the 63 non-DC coefficients. Insensitive to brightness, contrast,
// re-encoding and small resizes.
uint64_t perceptual_hash(const Image& image);
int hamming_distance(uint64_t a, uint64_t b);
uint64_t content_hash(const std::string& path);  // 64-bit hash of the file's bytes

constexpr int kDefaultHammingThreshold = 8;
constexpr double kDefaultMinCorrelation = 0.98;

struct DuplicatePair {
  size_t first = 0, second = 0;         // dataset indices; `first` is in the earlier split (train < val < test)
  std::string first_split, second_split;
  bool exact = false;                   // identical bytes; otherwise a near duplicate
  int hamming = 0;                      // perceptual-hash distance
  double correlation = 1;               // of the 32×32 grayscale thumbnails
};

struct DuplicateReport {
  int hamming_threshold = kDefaultHammingThreshold;
  double min_correlation = kDefaultMinCorrelation;
  std::vector<DuplicatePair> pairs;  // sorted by (first, second)
  int64_t exact_pairs = 0, near_pairs = 0;
  std::vector<size_t> unreadable;    // samples that could not be decoded (skipped by the check)
  // A count line, then one line per pair (at most `max_lines`, then "... and N more").
  std::string summary(const Dataset& dataset, size_t max_lines = 20) const;
};

// Compares every image of each split with every image of the other splits. Decoding runs on `threads` threads.
DuplicateReport find_cross_split_duplicates(const Dataset& dataset, const Splits& splits,
                                            int hamming_threshold = kDefaultHammingThreshold, int threads = 2,
                                            double min_correlation = kDefaultMinCorrelation);

// Removes the later-split member of every pair (the val side of train/val, the test side of train/test and of
// val/test), so the training data is never touched and evaluation never sees an image trained on.
void drop_duplicates(Splits& splits, const DuplicateReport& report);

}  // namespace pneuma::data
