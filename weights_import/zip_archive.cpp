// libzip behind ZipArchive: opening with libzip's consistency checks, listing entries and bounded reads.
#include "weights_import/zip_archive.h"

#include <sys/stat.h>
#include <zip.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "kernels/error.h"
#include "weights_import/printable.h"

namespace pneuma::weights_import {
namespace {

constexpr uint64_t kMaxDeflateRatio = 1100;  // deflate cannot expand beyond ~1032:1
constexpr uint64_t kMaxEntries = 1u << 20;

std::string zip_error_text(zip_error_t* error) {
  const char* text = zip_error_strerror(error);
  return text ? text : "unknown libzip error";
}

}  // namespace

ZipArchive::ZipArchive(const std::string& path, std::string label) : label_(std::move(label)) {
  struct stat info {};
  PNEUMA_CHECK(::stat(path.c_str(), &info) == 0, "%s: cannot open: %s", label_.c_str(), std::strerror(errno));
  PNEUMA_CHECK(S_ISREG(info.st_mode), "%s: not a regular file", label_.c_str());
  file_bytes_ = static_cast<uint64_t>(info.st_size);

  int code = 0;
  archive_ = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (archive_ == nullptr) {
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    const std::string text = zip_error_text(&error);
    zip_error_fini(&error);
    PNEUMA_FAIL("%s: not a readable zip archive: %s", label_.c_str(), text.c_str());
  }
  const zip_int64_t count = zip_get_num_entries(archive_, 0);
  if (count < 0 || static_cast<uint64_t>(count) > kMaxEntries) {
    zip_discard(archive_);
    PNEUMA_FAIL("%s: zip directory lists %lld entries", label_.c_str(), static_cast<long long>(count));
  }
  for (zip_int64_t i = 0; i < count; ++i) {
    zip_stat_t stat;
    zip_stat_init(&stat);
    const bool ok = zip_stat_index(archive_, static_cast<zip_uint64_t>(i), 0, &stat) == 0 &&
                    (stat.valid & ZIP_STAT_NAME) && (stat.valid & ZIP_STAT_SIZE) && (stat.valid & ZIP_STAT_COMP_SIZE);
    if (!ok) {
      const std::string text = zip_error_text(zip_get_error(archive_));
      zip_discard(archive_);
      PNEUMA_FAIL("%s: zip entry %lld is unreadable: %s", label_.c_str(), static_cast<long long>(i), text.c_str());
    }
    const bool stored = (stat.valid & ZIP_STAT_COMP_METHOD) && stat.comp_method == ZIP_CM_STORE;
    entries_.push_back({stat.name, stat.size, stat.comp_size, static_cast<uint64_t>(i), stored});
  }
}

ZipArchive::~ZipArchive() {
  if (archive_ != nullptr) zip_discard(archive_);
}

const ZipArchive::Entry* ZipArchive::find(const std::string& name) const {
  for (const Entry& entry : entries_)
    if (entry.name == name) return &entry;
  return nullptr;
}

std::string ZipArchive::read(const Entry& entry, uint64_t max_bytes) const {
  const std::string name = printable(entry.name);
  PNEUMA_CHECK(entry.size <= max_bytes, "%s: entry '%s' claims %llu bytes (limit %llu)", label_.c_str(), name.c_str(),
               static_cast<unsigned long long>(entry.size), static_cast<unsigned long long>(max_bytes));
  const uint64_t largest =
      entry.stored ? entry.compressed_size : std::max<uint64_t>(entry.compressed_size, 1) * kMaxDeflateRatio;
  PNEUMA_CHECK(entry.compressed_size <= file_bytes_ && entry.size <= largest,
               "%s: entry '%s' claims %llu bytes from %llu compressed bytes in a file of %llu (corrupt directory?)",
               label_.c_str(), name.c_str(), static_cast<unsigned long long>(entry.size),
               static_cast<unsigned long long>(entry.compressed_size), static_cast<unsigned long long>(file_bytes_));
  zip_file_t* file = zip_fopen_index(archive_, entry.index, 0);
  PNEUMA_CHECK(file != nullptr, "%s: cannot open entry '%s': %s", label_.c_str(), name.c_str(),
               zip_error_text(zip_get_error(archive_)).c_str());
  std::string bytes(entry.size, '\0');
  uint64_t done = 0;
  std::string failure;
  while (failure.empty()) {
    // One byte of room beyond the declared size: reading to the end makes libzip check the CRC, and a stream
    // longer than declared is caught.
    char probe = 0;
    char* destination = done < bytes.size() ? bytes.data() + done : &probe;
    const uint64_t want = done < bytes.size() ? bytes.size() - done : 1;
    const zip_int64_t got = zip_fread(file, destination, want);
    if (got < 0) {
      failure = zip_error_text(zip_file_get_error(file));
    } else if (got == 0) {
      if (done != bytes.size()) failure = "ends after " + std::to_string(done) + " bytes";
      break;
    } else if (done >= bytes.size()) {
      failure = "holds more bytes than its declared size";
    } else {
      done += static_cast<uint64_t>(got);
    }
  }
  zip_fclose(file);
  PNEUMA_CHECK(failure.empty(), "%s: entry '%s' (%llu bytes): %s", label_.c_str(), name.c_str(),
               static_cast<unsigned long long>(entry.size), failure.c_str());
  return bytes;
}

}  // namespace pneuma::weights_import
