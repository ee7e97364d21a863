// Optional on-disk cache of decoded, resized images (the uint8 output of prepare_pixels, before augmentation),
// so later epochs and later runs skip JPEG/PNG decoding. One file holds one preprocessing geometry (height,
// width, channels, centre crop); every entry is keyed by the source path, file size and modification time, and
// carries a checksum. Opening verifies everything: a file with another geometry, a bad header or index, a
// truncated body, a changed source file or an entry whose checksum fails is rebuilt (with a one-line note on
// stderr), never trusted. Entries for files not requested are kept if still fresh, so the training and the
// validation loader can share one file. The file is written to a temporary name and renamed (atomic), and read
// through a read-only memory map.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/data/dataset.h"
#include "engine/data/preprocess.h"

namespace pneuma::data {

struct CacheBuildStats {
  int64_t reused = 0;      // fresh entries found in the existing file
  int64_t decoded = 0;     // entries (re)built by decoding the source
  int64_t unreadable = 0;  // requested sources that could not be decoded (read() says false for them)
  bool rewritten = false;  // the file was (re)written
};

class ImageCache {
 public:
  // Opens `cache_path`, brings it up to date for the samples at `indices` (decoding on `threads` threads) and
  // maps it. With `strict`, an unreadable source is an error; otherwise it is reported on stderr and left out.
  ImageCache(const std::string& cache_path, const Dataset& dataset, const std::vector<size_t>& indices,
             const PreprocessOptions& preprocess, int threads, bool strict);
  ~ImageCache();
  ImageCache(const ImageCache&) = delete;
  ImageCache& operator=(const ImageCache&) = delete;

  // Copies the pixels of sample `index` at (height, width, preprocess.channels); false if the sample was not
  // requested or its source could not be decoded (the loader then decodes it itself and skips or fails).
  // Thread-safe.
  bool read(size_t index, uint8_t* pixels) const;
  // The stored form (see prepare_pixels_compact): `channels` is 1 for a gray image, else preprocess.channels.
  bool read_compact(size_t index, std::vector<uint8_t>& pixels, int& channels) const;
  const CacheBuildStats& build_stats() const { return stats_; }
  const std::string& path() const { return path_; }

 private:
  struct Mapping;
  std::string path_;
  PreprocessOptions preprocess_;
  std::unique_ptr<Mapping> mapping_;
  std::vector<int64_t> entry_of_sample_;  // sample index -> entry in the mapped file, -1 if absent
  CacheBuildStats stats_;
};

}  // namespace pneuma::data
