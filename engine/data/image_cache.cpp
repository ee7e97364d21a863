// On-disk cache of preprocessed uint8 images (see image_cache.h).
//
// Layout (little-endian): a 64-byte header
//   magic "PNMCACHE", u32 version, u32 height, u32 width, u32 channels, f64 center crop,
//   u64 entry count, u64 index offset, u64 index bytes, u64 index checksum
// then the pixel data of every entry (each at a 64-byte aligned offset), then the index: per entry
//   u32 path length, path bytes, u64 source size, i64 source mtime (ns; INT64_MIN: no such file),
//   u32 stored channels (1 or 3),
//   u64 data offset, u64 data bytes, u64 data checksum.
// A source that could not be decoded gets an entry with 0 channels and no data, so it is not retried (and the
// file not rewritten) on every run until the source changes. An entry stores one channel when the image's three channels are equal (grayscale X-rays and CTs), and is
// expanded on read.
#include "engine/data/image_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "engine/data/hash.h"
#include "engine/data/parallel_map.h"
#include "kernels/error.h"

namespace pneuma::data {
namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'P', 'N', 'M', 'C', 'A', 'C', 'H', 'E'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 64;
constexpr size_t kAlignment = 64;
constexpr uint64_t kIndexSeed = 0x1dcac4e, kDataSeed = 0xda7a;
constexpr int64_t kMissing = INT64_MIN;  // the mtime of a source that does not exist

struct SourceStamp {
  uint64_t size = 0;
  int64_t mtime_ns = kMissing;
  bool operator==(const SourceStamp& o) const { return size == o.size && mtime_ns == o.mtime_ns; }
};

SourceStamp stamp_of(const std::string& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return {};
  return {static_cast<uint64_t>(info.st_size),
          static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000LL + info.st_mtim.tv_nsec};
}

std::string cache_key(const std::string& path) { return fs::absolute(path).lexically_normal().string(); }

struct Entry {
  std::string key;
  SourceStamp stamp;
  uint32_t channels = 0;
  uint64_t offset = 0, bytes = 0, checksum = 0;
};

// Reads fixed-size values from a byte range, failing (returning false) past its end.
struct Reader {
  const uint8_t* data;
  size_t size, pos = 0;
  template <class T>
  bool get(T& value) {
    if (size - pos < sizeof(T)) return false;
    std::memcpy(&value, data + pos, sizeof(T));
    pos += sizeof(T);
    return true;
  }
  bool get_string(std::string& text, size_t length) {
    if (size - pos < length) return false;
    text.assign(reinterpret_cast<const char*>(data + pos), length);
    pos += length;
    return true;
  }
};

template <class T>
void put(std::string& out, const T& value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

}  // namespace

struct ImageCache::Mapping {
  int fd = -1;
  const uint8_t* data = nullptr;
  size_t size = 0;
  std::vector<Entry> entries;

  ~Mapping() {
    if (data) ::munmap(const_cast<uint8_t*>(data), size);
    if (fd >= 0) ::close(fd);
  }

  // Maps `path` and reads its index. Returns "" on success, else why the file cannot be used.
  std::string open(const std::string& path, const PreprocessOptions& preprocess) {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "cannot open it";
    struct stat info;
    if (::fstat(fd, &info) != 0) return "cannot stat it";
    size = static_cast<size_t>(info.st_size);
    if (size < kHeaderBytes) return "it is truncated";
    void* mapped = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapped == MAP_FAILED) {
      size = 0;
      return "cannot map it";
    }
    data = static_cast<const uint8_t*>(mapped);
    Reader header{data, kHeaderBytes};
    char magic[8];
    uint32_t version, height, width, channels;
    double crop;
    uint64_t count, index_offset, index_bytes, index_checksum;
    std::memcpy(magic, data, 8);
    header.pos = 8;
    if (std::memcmp(magic, kMagic, 8) != 0) return "it is not an image cache";
    header.get(version), header.get(height), header.get(width), header.get(channels), header.get(crop);
    header.get(count), header.get(index_offset), header.get(index_bytes), header.get(index_checksum);
    if (version != kVersion) return "it has format version " + std::to_string(version);
    if (height != static_cast<uint32_t>(preprocess.height) || width != static_cast<uint32_t>(preprocess.width) ||
        channels != static_cast<uint32_t>(preprocess.channels) || crop != preprocess.center_crop_fraction)
      return "it was built for " + std::to_string(height) + "x" + std::to_string(width) + "x" +
             std::to_string(channels) + " (crop " + std::to_string(crop) + ")";
    if (index_offset > size || index_bytes > size - index_offset) return "it is truncated";
    if (hash_bytes(data + index_offset, index_bytes, kIndexSeed) != index_checksum) return "its index is corrupt";
    Reader index{data + index_offset, index_bytes};
    const uint64_t pixels = static_cast<uint64_t>(height) * width;
    for (uint64_t e = 0; e < count; ++e) {
      Entry entry;
      uint32_t length;
      if (!index.get(length) || !index.get_string(entry.key, length) || !index.get(entry.stamp.size) ||
          !index.get(entry.stamp.mtime_ns) || !index.get(entry.channels) || !index.get(entry.offset) ||
          !index.get(entry.bytes) || !index.get(entry.checksum))
        return "its index is truncated";
      if ((entry.channels > 1 && entry.channels != channels) || entry.bytes != pixels * entry.channels ||
          entry.offset < kHeaderBytes || entry.offset > index_offset || entry.bytes > index_offset - entry.offset)
        return "its index is inconsistent";
      entries.push_back(std::move(entry));
    }
    return "";
  }

  bool entry_intact(const Entry& entry) const {
    return hash_bytes(data + entry.offset, entry.bytes, kDataSeed) == entry.checksum;
  }
};

ImageCache::ImageCache(const std::string& cache_path, const Dataset& dataset, const std::vector<size_t>& indices,
                       const PreprocessOptions& preprocess, int threads, bool strict)
    : path_(cache_path), preprocess_(preprocess) {
  PNEUMA_CHECK(!cache_path.empty(), "image cache: no path given");
  preprocess.validate();

  // 1. What the existing file holds that is still valid (fresh source, intact pixels).
  auto existing = std::make_unique<Mapping>();
  std::string problem = fs::exists(cache_path) ? existing->open(cache_path, preprocess) : "";
  std::map<std::string, const Entry*> valid;
  bool dirty = !fs::exists(cache_path) || !problem.empty();
  if (problem.empty() && existing->data) {
    std::vector<char> keep(existing->entries.size(), 0);
    parallel_map(existing->entries.size(), threads, [&](size_t e) {
      const Entry& entry = existing->entries[e];
      keep[e] = stamp_of(entry.key) == entry.stamp && existing->entry_intact(entry);
    });
    int64_t corrupt_or_stale = 0;
    for (size_t e = 0; e < keep.size(); ++e) {
      if (keep[e] && valid.emplace(existing->entries[e].key, &existing->entries[e]).second) continue;
      ++corrupt_or_stale;
    }
    if (corrupt_or_stale > 0) {
      dirty = true;
      std::fprintf(stderr, "image cache %s: %lld entr%s stale (source changed) or corrupt, rebuilding them\n",
                   cache_path.c_str(), static_cast<long long>(corrupt_or_stale), corrupt_or_stale == 1 ? "y" : "ies");
    }
  } else if (!problem.empty()) {
    std::fprintf(stderr, "image cache %s: %s, rebuilding\n", cache_path.c_str(), problem.c_str());
  }

  // 2. The requested samples missing from it.
  std::vector<std::string> wanted_keys;
  std::map<std::string, size_t> first_sample_of_key;
  for (size_t i : indices) {
    PNEUMA_CHECK(i < dataset.samples.size(), "image cache: index %zu outside the dataset", i);
    const std::string key = cache_key(dataset.samples[i].path);
    if (first_sample_of_key.emplace(key, i).second) wanted_keys.push_back(key);
  }
  std::vector<std::string> to_decode;
  for (const std::string& key : wanted_keys)
    if (valid.count(key))
      ++stats_.reused;
    else
      to_decode.push_back(key);
  dirty = dirty || !to_decode.empty();

  if (dirty) {
    // 3. Write a new file: the valid old entries, then the decoded ones (in chunks, so memory stays bounded).
    std::random_device entropy;
    const std::string temp = cache_path + ".tmp" + std::to_string(::getpid()) + "-" + std::to_string(entropy());
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    PNEUMA_CHECK(out.good(), "image cache: cannot create %s", temp.c_str());
    try {
      std::vector<Entry> written;
      uint64_t offset = kHeaderBytes;
      out.write(std::string(kHeaderBytes, '\0').data(), kHeaderBytes);
      const auto append = [&](Entry entry, const uint8_t* data) {
        const uint64_t aligned = (offset + kAlignment - 1) / kAlignment * kAlignment;
        out.write(std::string(aligned - offset, '\0').data(), static_cast<std::streamsize>(aligned - offset));
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(entry.bytes));
        entry.offset = aligned;
        entry.checksum = hash_bytes(data, entry.bytes, kDataSeed);
        offset = aligned + entry.bytes;
        written.push_back(std::move(entry));
      };
      for (const auto& [key, entry] : valid) append(*entry, existing->data + entry->offset);
      constexpr size_t kChunk = 256;
      for (size_t begin = 0; begin < to_decode.size(); begin += kChunk) {
        const size_t count = std::min(kChunk, to_decode.size() - begin);
        std::vector<std::vector<uint8_t>> decoded(count);
        std::vector<uint32_t> stored(count, 0);
        std::vector<SourceStamp> stamps(count);
        parallel_map(count, threads, [&](size_t k) {
          const std::string& key = to_decode[begin + k];
          const std::string& path = dataset.samples[first_sample_of_key.at(key)].path;
          stamps[k] = stamp_of(path);  // before reading, so a file changed meanwhile is found stale next time
          try {
            int channels = 0;
            decoded[k] = prepare_pixels_compact(decode_image(path), preprocess, channels);
            stored[k] = static_cast<uint32_t>(channels);
          } catch (const Error&) {
            if (strict) throw;
            decoded[k].clear();
            stored[k] = 0;  // unreadable: an empty entry
          }
        });
        for (size_t k = 0; k < count; ++k) {
          if (stored[k] > 0) ++stats_.decoded;
          append(Entry{to_decode[begin + k], stamps[k], stored[k], 0, decoded[k].size(), 0}, decoded[k].data());
        }
      }
      std::string index;
      for (const Entry& entry : written) {
        put(index, static_cast<uint32_t>(entry.key.size()));
        index += entry.key;
        put(index, entry.stamp.size), put(index, entry.stamp.mtime_ns), put(index, entry.channels);
        put(index, entry.offset), put(index, entry.bytes), put(index, entry.checksum);
      }
      out.write(index.data(), static_cast<std::streamsize>(index.size()));
      std::string header(kMagic, 8);
      put(header, kVersion), put(header, static_cast<uint32_t>(preprocess.height));
      put(header, static_cast<uint32_t>(preprocess.width)), put(header, static_cast<uint32_t>(preprocess.channels));
      put(header, preprocess.center_crop_fraction), put(header, static_cast<uint64_t>(written.size()));
      put(header, offset), put(header, static_cast<uint64_t>(index.size()));
      put(header, hash_bytes(index.data(), index.size(), kIndexSeed));
      header.resize(kHeaderBytes, '\0');
      out.seekp(0);
      out.write(header.data(), kHeaderBytes);
      out.close();
      PNEUMA_CHECK(!out.fail(), "image cache: writing %s failed (disk full?)", temp.c_str());
      existing.reset();
      fs::rename(temp, cache_path);
    } catch (...) {
      std::error_code ignored;
      fs::remove(temp, ignored);
      throw;
    }
    stats_.rewritten = true;
  }

  // 4. Map the (new) file and point every requested sample at its entry.
  if (existing) {
    mapping_ = std::move(existing);
  } else {
    mapping_ = std::make_unique<Mapping>();
    const std::string reopened = mapping_->open(cache_path, preprocess);
    PNEUMA_CHECK(reopened.empty(), "image cache %s: cannot read the file just written: %s", cache_path.c_str(),
                 reopened.c_str());
  }
  std::map<std::string, int64_t> entry_of_key;
  for (size_t e = 0; e < mapping_->entries.size(); ++e) entry_of_key.emplace(mapping_->entries[e].key, e);
  entry_of_sample_.assign(dataset.samples.size(), -1);
  for (size_t i : indices) {
    const auto it = entry_of_key.find(cache_key(dataset.samples[i].path));
    if (it == entry_of_key.end()) continue;
    entry_of_sample_[i] = it->second;
  }
  for (const std::string& key : wanted_keys) {
    const auto it = entry_of_key.find(key);
    if (it == entry_of_key.end() || mapping_->entries[it->second].channels == 0) ++stats_.unreadable;
  }
}

ImageCache::~ImageCache() = default;

bool ImageCache::read_compact(size_t index, std::vector<uint8_t>& pixels, int& channels) const {
  if (index >= entry_of_sample_.size() || entry_of_sample_[index] < 0) return false;
  const Entry& entry = mapping_->entries[entry_of_sample_[index]];
  if (entry.channels == 0) return false;
  const uint8_t* source = mapping_->data + entry.offset;
  pixels.assign(source, source + entry.bytes);
  channels = static_cast<int>(entry.channels);
  return true;
}

bool ImageCache::read(size_t index, uint8_t* pixels) const {
  std::vector<uint8_t> compact;
  int stored = 0;
  if (!read_compact(index, compact, stored)) return false;
  const int channels = preprocess_.channels;
  if (stored == channels) {
    std::copy(compact.begin(), compact.end(), pixels);
  } else {
    for (size_t p = 0; p < compact.size(); ++p)
      for (int c = 0; c < channels; ++c) pixels[p * channels + c] = compact[p];
  }
  return true;
}

}  // namespace pneuma::data
