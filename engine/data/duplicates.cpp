// Cross-split duplicate detection with content and perceptual hashes (see duplicates.h).
#include "engine/data/duplicates.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <fstream>
#include <iterator>
#include <set>
#include <tuple>

#include "engine/data/hash.h"
#include "engine/data/parallel_map.h"
#include "kernels/error.h"

namespace pneuma::data {
namespace {

std::vector<unsigned char> read_bytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  PNEUMA_CHECK(file.good(), "cannot open %s", path.c_str());
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  PNEUMA_CHECK(!file.bad(), "cannot read %s", path.c_str());
  return bytes;
}

constexpr int kSize = 32, kLow = 8;

// The 32×32 luma thumbnail both near-duplicate measures use.
Image thumbnail(const Image& image) { return resize_bilinear_antialiased(to_grayscale(image), kSize, kSize); }

uint64_t hash_of_thumbnail(const Image& small) {
  // cos((2x + 1) u π / 64) for the 8 lowest frequencies.
  static const std::vector<double> basis = [] {
    std::vector<double> table(kLow * kSize);
    for (int u = 0; u < kLow; ++u)
      for (int x = 0; x < kSize; ++x) table[u * kSize + x] = std::cos((2 * x + 1) * u * M_PI / (2 * kSize));
    return table;
  }();
  double rows[kSize][kLow];  // DCT along x for every row
  for (int y = 0; y < kSize; ++y)
    for (int u = 0; u < kLow; ++u) {
      double sum = 0;
      for (int x = 0; x < kSize; ++x) sum += basis[u * kSize + x] * small.pixels[y * kSize + x];
      rows[y][u] = sum;
    }
  double coefficients[kLow * kLow];
  for (int v = 0; v < kLow; ++v)
    for (int u = 0; u < kLow; ++u) {
      double sum = 0;
      for (int y = 0; y < kSize; ++y) sum += basis[v * kSize + y] * rows[y][u];
      coefficients[v * kLow + u] = sum;
    }
  double ac[kLow * kLow - 1];
  std::copy(coefficients + 1, coefficients + kLow * kLow, ac);
  std::nth_element(ac, ac + 31, ac + 63);
  const double median = ac[31];
  uint64_t hash = 0;
  for (int i = 0; i < kLow * kLow; ++i)
    if (coefficients[i] > median) hash |= uint64_t{1} << i;
  return hash;
}

// Zero-mean, unit-norm thumbnail, so the correlation of two is their dot product (all zero for a flat image).
std::vector<float> correlation_vector(const Image& small) {
  double mean = 0;
  for (float v : small.pixels) mean += v;
  mean /= static_cast<double>(small.pixels.size());
  double norm = 0;
  for (float v : small.pixels) norm += (v - mean) * (v - mean);
  norm = std::sqrt(norm);
  std::vector<float> vector(small.pixels.size(), 0.0f);
  if (norm > 1e-6)
    for (size_t i = 0; i < vector.size(); ++i) vector[i] = static_cast<float>((small.pixels[i] - mean) / norm);
  return vector;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

}  // namespace

uint64_t perceptual_hash(const Image& image) { return hash_of_thumbnail(thumbnail(image)); }

int hamming_distance(uint64_t a, uint64_t b) { return std::popcount(a ^ b); }

uint64_t content_hash(const std::string& path) {
  const std::vector<unsigned char> bytes = read_bytes(path);
  return hash_bytes(bytes.data(), bytes.size());
}

std::string DuplicateReport::summary(const Dataset& dataset, size_t max_lines) const {
  std::string text = std::to_string(pairs.size()) + " cross-split duplicate pair(s): " + std::to_string(exact_pairs) +
                     " exact, " + std::to_string(near_pairs) + " near (perceptual-hash distance <= " +
                     std::to_string(hamming_threshold) + ", thumbnail correlation >= " +
                     std::to_string(min_correlation).substr(0, 5) + ")";
  if (!unreadable.empty()) text += "; " + std::to_string(unreadable.size()) + " unreadable image(s) not checked";
  for (size_t p = 0; p < pairs.size() && p < max_lines; ++p) {
    const DuplicatePair& pair = pairs[p];
    text += "\n  " + pair.first_split + " " + dataset.samples[pair.first].path + "  ~  " + pair.second_split + " " +
            dataset.samples[pair.second].path +
            (pair.exact ? "  (identical files)"
                        : "  (distance " + std::to_string(pair.hamming) + ", correlation " +
                              std::to_string(pair.correlation).substr(0, 5) + ")");
  }
  if (pairs.size() > max_lines) text += "\n  ... and " + std::to_string(pairs.size() - max_lines) + " more";
  return text;
}

DuplicateReport find_cross_split_duplicates(const Dataset& dataset, const Splits& splits, int hamming_threshold,
                                            int threads, double min_correlation) {
  PNEUMA_CHECK(hamming_threshold >= 0 && hamming_threshold <= 64, "duplicate check: Hamming threshold %d outside "
               "[0, 64]", hamming_threshold);
  PNEUMA_CHECK(min_correlation >= -1 && min_correlation <= 1, "duplicate check: minimum correlation %g outside "
               "[-1, 1]", min_correlation);
  struct Item {
    size_t index = 0;
    int split = 0;
    uint64_t content = 0, phash = 0, size = 0;
    std::vector<float> shape;  // correlation_vector of the thumbnail
    bool readable = false;
  };
  static const char* const kSplitNames[3] = {"train", "val", "test"};
  std::vector<Item> items;
  const std::vector<size_t>* parts[3] = {&splits.train, &splits.val, &splits.test};
  for (int s = 0; s < 3; ++s)
    for (size_t i : *parts[s]) {
      PNEUMA_CHECK(i < dataset.samples.size(), "duplicate check: index %zu outside the dataset", i);
      Item item;
      item.index = i;
      item.split = s;
      items.push_back(std::move(item));
    }
  parallel_map(items.size(), threads, [&](size_t k) {
    Item& item = items[k];
    try {
      const std::vector<unsigned char> bytes = read_bytes(dataset.samples[item.index].path);
      item.content = hash_bytes(bytes.data(), bytes.size());
      item.size = bytes.size();
      const Image small = thumbnail(decode_image_from_memory(bytes.data(), bytes.size(), dataset.samples[item.index].path));
      item.phash = hash_of_thumbnail(small);
      item.shape = correlation_vector(small);
      item.readable = true;
    } catch (const Error&) {
      item.readable = false;  // listed in the report; the loader decides whether that is fatal
    }
  });

  DuplicateReport report;
  report.hamming_threshold = hamming_threshold;
  report.min_correlation = min_correlation;
  for (const Item& item : items)
    if (!item.readable) report.unreadable.push_back(item.index);
  for (size_t a = 0; a < items.size(); ++a) {
    if (!items[a].readable) continue;
    for (size_t b = a + 1; b < items.size(); ++b) {
      if (!items[b].readable || items[b].split == items[a].split) continue;
      const bool exact = items[a].content == items[b].content && items[a].size == items[b].size;
      const int distance = hamming_distance(items[a].phash, items[b].phash);
      if (!exact && distance > hamming_threshold) continue;
      const double correlation = dot(items[a].shape, items[b].shape);
      if (!exact && correlation < min_correlation) continue;
      const Item& first = items[a].split < items[b].split ? items[a] : items[b];
      const Item& second = items[a].split < items[b].split ? items[b] : items[a];
      report.pairs.push_back(DuplicatePair{first.index, second.index, kSplitNames[first.split],
                                           kSplitNames[second.split], exact, distance, correlation});
      ++(exact ? report.exact_pairs : report.near_pairs);
    }
  }
  std::sort(report.pairs.begin(), report.pairs.end(), [](const DuplicatePair& x, const DuplicatePair& y) {
    return std::tie(x.first, x.second) < std::tie(y.first, y.second);
  });
  std::sort(report.unreadable.begin(), report.unreadable.end());
  return report;
}

void drop_duplicates(Splits& splits, const DuplicateReport& report) {
  std::set<size_t> drop_val, drop_test;
  for (const DuplicatePair& pair : report.pairs) (pair.second_split == "val" ? drop_val : drop_test).insert(pair.second);
  const auto remove = [](std::vector<size_t>& part, const std::set<size_t>& drop) {
    part.erase(std::remove_if(part.begin(), part.end(), [&](size_t i) { return drop.count(i) > 0; }), part.end());
  };
  remove(splits.val, drop_val);
  remove(splits.test, drop_test);
}

}  // namespace pneuma::data
