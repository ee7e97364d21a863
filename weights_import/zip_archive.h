// Read-only access to a zip archive (PyTorch checkpoints and NumPy .npz files are zip files) through libzip.
// Every entry's sizes are checked before memory is allocated for it: a stored entry must hold exactly its
// compressed size (which must fit in the file), a compressed one no more than deflate's maximum ratio allows, and a
// read that comes up short or fails its CRC is an error naming the archive and the entry.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct zip;

namespace pneuma::weights_import {

class ZipArchive {
 public:
  struct Entry {
    std::string name;
    uint64_t size = 0;  // uncompressed
    uint64_t compressed_size = 0;
    uint64_t index = 0;
    bool stored = false;  // kept uncompressed (as torch.save and np.savez write entries)
  };

  // `label` starts every message (e.g. "PyTorch checkpoint model.pth").
  ZipArchive(const std::string& path, std::string label);
  ~ZipArchive();
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(const std::string& name) const;  // null when absent
  // The whole entry, uncompressed. Fails when it would exceed `max_bytes`.
  std::string read(const Entry& entry, uint64_t max_bytes) const;
  const std::string& label() const { return label_; }

 private:
  std::string label_;
  uint64_t file_bytes_ = 0;
  zip* archive_ = nullptr;
  std::vector<Entry> entries_;
};

}  // namespace pneuma::weights_import
