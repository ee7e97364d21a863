// Format detection from a file's first bytes, and dispatch to the reader for that format.
#include "weights_import/tensor_archive.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "kernels/error.h"
#include "weights_import/keras_h5.h"
#include "weights_import/npz.h"
#include "weights_import/printable.h"
#include "weights_import/torch_checkpoint.h"
#include "weights_import/zip_archive.h"

namespace pneuma::weights_import {

bool TensorArchive::contains(const std::string& name) const {
  return std::any_of(tensors.begin(), tensors.end(), [&](const NamedTensor& t) { return t.name == name; });
}

const Tensor& TensorArchive::at(const std::string& name) const {
  for (const NamedTensor& t : tensors)
    if (t.name == name) return t.tensor;
  PNEUMA_FAIL("%s: no tensor named '%s'", path.c_str(), printable(name).c_str());
}

const char* archive_format_name(ArchiveFormat format) {
  switch (format) {
    case ArchiveFormat::torch_zip:
      return "PyTorch checkpoint";
    case ArchiveFormat::safetensors:
      return "safetensors";
    case ArchiveFormat::keras_h5:
      return "Keras HDF5";
    case ArchiveFormat::npz:
      return "NumPy .npz";
  }
  return "?";
}

ArchiveFormat detect_archive_format(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  PNEUMA_CHECK(fd >= 0, "%s: cannot open: %s", path.c_str(), std::strerror(errno));
  unsigned char head[512] = {};
  ssize_t got = 0;
  for (;;) {
    got = ::pread(fd, head, sizeof head, 0);
    if (!(got < 0 && errno == EINTR)) break;
  }
  const int read_error = errno;
  ::close(fd);
  PNEUMA_CHECK(got >= 0, "%s: cannot read: %s", path.c_str(), std::strerror(read_error));
  const size_t size = static_cast<size_t>(got);
  auto starts_with = [&](const char* magic, size_t length) {
    return size >= length && std::memcmp(head, magic, length) == 0;
  };

  if (starts_with("PK\x03\x04", 4) || starts_with("PK\x05\x06", 4)) {
    const ZipArchive zip(path, "zip archive " + path);
    for (const ZipArchive::Entry& entry : zip.entries()) {
      const std::string& name = entry.name;
      if (name.size() >= 9 && name.compare(name.size() - 9, 9, "/data.pkl") == 0) return ArchiveFormat::torch_zip;
      if (name.find("constants.pkl") != std::string::npos) return ArchiveFormat::torch_zip;  // TorchScript: its error
    }
    const bool all_npy = !zip.entries().empty() &&
                         std::all_of(zip.entries().begin(), zip.entries().end(), [](const ZipArchive::Entry& e) {
                           return e.name.size() > 4 && e.name.compare(e.name.size() - 4, 4, ".npy") == 0;
                         });
    PNEUMA_CHECK(all_npy,
                 "%s: a zip archive that is neither a PyTorch checkpoint (no <name>/data.pkl) nor a NumPy "
                 ".npz (entries that are not .npy)",
                 path.c_str());
    return ArchiveFormat::npz;
  }
  if (starts_with("\x89HDF\r\n\x1a\n", 8)) return ArchiveFormat::keras_h5;
  if (size >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5)
    PNEUMA_FAIL(
        "%s: a bare pickle, as written by the legacy torch.save format (PyTorch before 1.6, or "
        "_use_new_zipfile_serialization=False), which is not supported: re-save it with a current PyTorch "
        "as torch.save(model.state_dict(), path)",
        path.c_str());
  if (size >= 262 && std::memcmp(head + 257, "ustar", 5) == 0)
    PNEUMA_FAIL(
        "%s: a tar archive, as written by the oldest torch.save format (PyTorch 0.1-0.3), which is not "
        "supported: re-save it with a current PyTorch",
        path.c_str());
  if (size >= 9) {
    uint64_t header_bytes = 0;
    std::memcpy(&header_bytes, head, 8);
    if (head[8] == '{' && header_bytes >= 2) return ArchiveFormat::safetensors;
  }
  PNEUMA_FAIL(
      "%s: unrecognised weights format (expected a PyTorch .pth/.pt zip checkpoint, .safetensors, a Keras "
      ".h5 or a NumPy .npz)",
      path.c_str());
}

TensorArchive read_tensor_archive(const std::string& path) {
  switch (detect_archive_format(path)) {
    case ArchiveFormat::torch_zip:
      return read_torch_checkpoint(path);
    case ArchiveFormat::keras_h5:
      return read_keras_h5(path);
    case ArchiveFormat::npz:
      return read_npz(path);
    case ArchiveFormat::safetensors: {
      SafetensorsFile file = read_safetensors(path);
      TensorArchive archive{file.path, std::move(file.tensors), std::move(file.metadata)};
      archive.metadata.emplace("format", "safetensors");
      return archive;
    }
  }
  PNEUMA_FAIL("%s: unreachable format", path.c_str());
}

}  // namespace pneuma::weights_import
