// The Keras HDF5 reader. All libhdf5 work happens in a child process (child_process_stream.h): libhdf5 1.10 can
// crash on corrupt files, and a crash there must not take the caller down. The child opens the file read-only with
// external links refused, finds the weights group, walks layer_names → weight_names → datasets, checks each
// dataset's type, rank, size and storage, and streams records to the parent:
//   'M' key value        metadata
//   'T' name dtype rank dims... data    one tensor (dtype as our DType, data contiguous little-endian)
//   'E' message          the error that ended the read
//   'D'                  done
// The parent re-checks every size against the file before allocating and builds the tensors.
#include "weights_import/keras_h5.h"

#include <hdf5.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "kernels/error.h"
#include "weights_import/child_process_stream.h"
#include "weights_import/printable.h"

namespace pneuma::weights_import {
namespace {

constexpr size_t kMaxRank = 32;
constexpr uint64_t kMaxStringCount = 1u << 20;
constexpr uint64_t kMaxStringBytes = 1u << 16;
constexpr uint64_t kMaxFilterRatio = 1100;  // deflate's bound; other filters are refused beyond it
constexpr int kInactivitySeconds = 60;
constexpr uint64_t kChildMemoryBase = 1ull << 30;  // + 3 × the file: metadata caches and one dataset at a time

// The innermost and outermost descriptions on libhdf5's error stack, then the stack cleared.
std::string hdf5_error_text() {
  std::vector<std::string> descriptions;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* error, void* data) -> herr_t {
        if (error->desc && *error->desc) static_cast<std::vector<std::string>*>(data)->push_back(error->desc);
        return 0;
      },
      &descriptions);
  H5Eclear2(H5E_DEFAULT);
  if (descriptions.empty()) return "libhdf5 failed";
  if (descriptions.size() == 1) return printable(descriptions.front());
  return printable(descriptions.front()) + ": " + printable(descriptions.back());
}

// An hid_t closed by the matching H5*close when it leaves scope.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0 && close_) close_(id_);
  }
  Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, -1)), close_(other.close_) {}
  Handle& operator=(Handle&& other) noexcept {
    std::swap(id_, other.id_);
    std::swap(close_, other.close_);
    return *this;
  }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

// Runs in the child: walks the file and streams what it finds.
class KerasReader {
 public:
  KerasReader(const std::string& path, uint64_t file_bytes, StreamWriter& out)
      : path_(path), file_bytes_(file_bytes), out_(out) {}

  void read() {
    link_access_ = Handle(H5Pcreate(H5P_LINK_ACCESS), H5Pclose);
    check(link_access_.valid(), "cannot create a link access property list");
    check(H5Pset_elink_cb(link_access_.get(), refuse_external_link, nullptr) >= 0,
          "cannot set the external link policy");
    file_ = Handle(H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    check(file_.valid(), "cannot open as HDF5");

    Handle root = open_object(file_.get(), "/", H5I_GROUP, "the root group");
    for (const char* key : {"keras_version", "backend"}) {
      const std::vector<std::string> value = string_attribute(root.get(), key, "the root group", true);
      if (value.size() == 1) metadata(std::string("keras.") + key, value.front());
    }

    Handle weights;
    std::string where;
    if (has_attribute(root.get(), "layer_names")) {
      weights = std::move(root);
      where = "the root group";
      metadata("keras.layout", "save_weights");
    } else if (H5Lexists(root.get(), "model_weights", H5P_DEFAULT) > 0) {
      weights = open_object(root.get(), "model_weights", H5I_GROUP, "group 'model_weights'");
      where = "group 'model_weights'";
      metadata("keras.layout", "model.save");
    } else {
      H5Eclear2(H5E_DEFAULT);
      const bool keras3 = H5Lexists(root.get(), "layers", H5P_DEFAULT) > 0 ||
                          H5Lexists(root.get(), "_layer_checkpoint_dependencies", H5P_DEFAULT) > 0;
      H5Eclear2(H5E_DEFAULT);
      fail(keras3 ? "this is a Keras 3 .weights.h5 file, which is not supported: save the weights with Keras 2 "
                    "(tf.keras) model.save_weights('weights.h5') or export them another way"
                  : "no 'layer_names' attribute at the root or in 'model_weights': not a Keras 2 weights file");
    }
    std::set<std::string> names;
    for (const std::string& layer : string_attribute(weights.get(), "layer_names", where, false)) {
      const std::string layer_label = "layer '" + printable(layer) + "'";
      Handle group = open_object(weights.get(), layer, H5I_GROUP, layer_label);
      for (const std::string& weight : string_attribute(group.get(), "weight_names", layer_label, false)) {
        const std::string label = layer_label + ", weight '" + printable(weight) + "'";
        std::string name = weight;
        const size_t colon = name.rfind(':');
        if (colon != std::string::npos && colon + 1 < name.size() &&
            std::all_of(name.begin() + static_cast<std::ptrdiff_t>(colon) + 1, name.end(),
                        [](char c) { return c >= '0' && c <= '9'; }))
          name.resize(colon);
        if (!names.insert(name).second) fail(label + ": weight name '" + printable(name) + "' appears twice");
        Handle dataset = open_object(group.get(), weight, H5I_DATASET, label);
        send_dataset(dataset.get(), name, label);
      }
    }
    out_.u8('D');
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    PNEUMA_FAIL("Keras file %s: %s", path_.c_str(), message.c_str());
  }
  void check(bool ok, const std::string& what) const {
    if (!ok) fail(what + ": " + hdf5_error_text());
  }

  void metadata(const std::string& key, const std::string& value) {
    out_.u8('M');
    out_.text(key);
    out_.text(value);
  }

  static herr_t refuse_external_link(const char*, const char*, const char*, const char*, unsigned*, hid_t, void*) {
    return -1;
  }

  Handle open_object(hid_t location, const std::string& name, H5I_type_t expected, const std::string& label) {
    PNEUMA_CHECK(!name.empty(), "Keras file %s: %s has an empty name", path_.c_str(), label.c_str());
    const hid_t id = H5Oopen(location, name.c_str(), link_access_.get());
    check(id >= 0, "cannot open " + label);
    const H5I_type_t type = H5Iget_type(id);
    Handle handle(id, type == H5I_GROUP ? H5Gclose : type == H5I_DATASET ? H5Dclose : H5Oclose);
    if (type != expected) fail(label + " is not a " + (expected == H5I_GROUP ? "group" : "dataset"));
    return handle;
  }

  static bool has_attribute(hid_t object, const char* name) {
    const htri_t exists = H5Aexists(object, name);
    H5Eclear2(H5E_DEFAULT);
    return exists > 0;
  }

  // A string or list-of-strings attribute, joined from Keras' `name0`, `name1`, ... chunks when split.
  std::vector<std::string> string_attribute(hid_t object, const std::string& name, const std::string& where,
                                            bool optional) {
    if (has_attribute(object, name.c_str())) return read_strings(object, name, where);
    std::vector<std::string> joined;
    int chunk = 0;
    for (; chunk < 100000 && has_attribute(object, (name + std::to_string(chunk)).c_str()); ++chunk) {
      std::vector<std::string> part = read_strings(object, name + std::to_string(chunk), where);
      joined.insert(joined.end(), part.begin(), part.end());
      if (joined.size() > kMaxStringCount) fail("attribute '" + name + "' of " + where + " is too long");
    }
    if (chunk == 0 && !optional) fail(where + " has no attribute '" + name + "'");
    return joined;
  }

  std::vector<std::string> read_strings(hid_t object, const std::string& name, const std::string& where) {
    const std::string label = "attribute '" + name + "' of " + where;
    Handle attribute(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose);
    check(attribute.valid(), "cannot open " + label);
    Handle type(H5Aget_type(attribute.get()), H5Tclose);
    Handle space(H5Aget_space(attribute.get()), H5Sclose);
    check(type.valid() && space.valid(), "cannot inspect " + label);
    if (H5Tget_class(type.get()) != H5T_STRING) fail(label + " is not a string attribute");
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0 || rank > 1) fail(label + " is not a scalar or a list");
    const hssize_t points = H5Sget_simple_extent_npoints(space.get());
    if (points < 0 || static_cast<uint64_t>(points) > kMaxStringCount) fail(label + " has an invalid size");
    const size_t count = static_cast<size_t>(points);
    std::vector<std::string> out;
    const htri_t variable = H5Tis_variable_str(type.get());
    check(variable >= 0, "cannot inspect " + label);
    if (variable > 0) {
      Handle memory(H5Tcopy(H5T_C_S1), H5Tclose);
      check(memory.valid() && H5Tset_size(memory.get(), H5T_VARIABLE) >= 0 &&
                H5Tset_cset(memory.get(), H5Tget_cset(type.get())) >= 0,
            "cannot read " + label);
      std::vector<char*> pointers(count, nullptr);
      check(H5Aread(attribute.get(), memory.get(), pointers.data()) >= 0, "cannot read " + label);
      for (char* text : pointers) out.emplace_back(text ? std::string(text, strnlen(text, kMaxStringBytes)) : "");
      H5Dvlen_reclaim(memory.get(), space.get(), H5P_DEFAULT, pointers.data());
    } else {
      const size_t size = H5Tget_size(type.get());
      if (size == 0 || size > kMaxStringBytes) fail(label + " has strings of " + std::to_string(size) + " bytes");
      std::vector<char> buffer(count * size, '\0');
      if (count > 0) check(H5Aread(attribute.get(), type.get(), buffer.data()) >= 0, "cannot read " + label);
      for (size_t i = 0; i < count; ++i) {
        const char* text = buffer.data() + i * size;
        out.emplace_back(text, strnlen(text, size));
      }
    }
    return out;
  }

  void send_dataset(hid_t dataset, const std::string& name, const std::string& label) {
    Handle type(H5Dget_type(dataset), H5Tclose);
    Handle space(H5Dget_space(dataset), H5Sclose);
    Handle creation(H5Dget_create_plist(dataset), H5Pclose);
    check(type.valid() && space.valid() && creation.valid(), "cannot inspect " + label);

    const H5T_class_t type_class = H5Tget_class(type.get());
    const size_t element = H5Tget_size(type.get());
    DType dtype;
    hid_t memory_type;
    if (type_class == H5T_FLOAT && (element == 2 || element == 4)) {
      dtype = DType::f32;
      memory_type = H5T_NATIVE_FLOAT;
    } else if (type_class == H5T_FLOAT && element == 8) {
      dtype = DType::f64;
      memory_type = H5T_NATIVE_DOUBLE;
    } else if (type_class == H5T_INTEGER && (element == 4 || element == 8)) {
      dtype = DType::i64;
      memory_type = H5T_NATIVE_INT64;
    } else {
      fail(label + ": data type (class " + std::to_string(static_cast<int>(type_class)) + ", " +
           std::to_string(element) + " bytes) is not a float16/32/64 or int32/64");
    }

    const H5S_class_t space_class = H5Sget_simple_extent_type(space.get());
    if (space_class != H5S_SIMPLE && space_class != H5S_SCALAR)
      fail(label + ": dataspace is neither simple nor scalar");
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0 || static_cast<size_t>(rank) > kMaxRank)
      fail(label + ": rank " + std::to_string(rank) + " is invalid");
    std::vector<hsize_t> dims(static_cast<size_t>(rank));
    if (rank > 0)
      check(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) == rank, "cannot read the shape of " + label);
    Shape shape;
    uint64_t count = 1;
    for (hsize_t d : dims) {
      if (d > (1ull << 40) || __builtin_mul_overflow(count, uint64_t{d}, &count) || count > (1ull << 40))
        fail(label + ": shape is too large");
      shape.push_back(static_cast<int64_t>(d));
    }

    // Storage: only the file's own bytes, never external or virtual data, and no more values than the stored
    // bytes can hold (compressed data: within deflate's ratio).
    const H5D_layout_t layout = H5Pget_layout(creation.get());
    if (layout != H5D_CONTIGUOUS && layout != H5D_COMPACT && layout != H5D_CHUNKED)
      fail(label + ": dataset layout " + std::to_string(static_cast<int>(layout)) + " is not supported");
    if (H5Pget_external_count(creation.get()) != 0) fail(label + ": data stored in external files is not supported");
    const int filters = H5Pget_nfilters(creation.get());
    check(filters >= 0, "cannot inspect " + label);
    const uint64_t stored = H5Dget_storage_size(dataset);
    H5Eclear2(H5E_DEFAULT);
    const uint64_t needed = count * element;
    const uint64_t allowed = filters > 0 ? stored * kMaxFilterRatio : stored;
    if (count > 0 && (stored == 0 || stored > file_bytes_ || needed > allowed))
      fail(label + ": " + shape_string(shape) + " needs " + std::to_string(needed) + " bytes but the file stores " +
           std::to_string(stored) + " (corrupt or missing data)");

    std::vector<char> data(count * dtype_size(dtype));
    if (count > 0)
      check(H5Dread(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()) >= 0, "cannot read " + label);
    out_.u8('T');
    out_.text(name);
    out_.u8(static_cast<uint8_t>(dtype));
    out_.u8(static_cast<uint8_t>(shape.size()));
    for (int64_t d : shape) out_.u64(static_cast<uint64_t>(d));
    out_.bytes(data.data(), data.size());
  }

  std::string path_;
  uint64_t file_bytes_;
  StreamWriter& out_;
  Handle link_access_, file_;
};

// Runs in the parent: builds the archive from the child's records, re-checking every size.
TensorArchive receive(StreamReader& in, const std::string& path, uint64_t file_bytes) {
  TensorArchive archive;
  archive.path = path;
  archive.metadata["format"] = "keras_h5";
  const uint64_t max_tensor_bytes = std::max<uint64_t>(file_bytes, 1) * kMaxFilterRatio;
  for (;;) {
    const uint8_t tag = in.u8();
    if (tag == 'D') return archive;
    if (tag == 'E') PNEUMA_FAIL("%s", in.text(1u << 16).c_str());
    if (tag == 'M') {
      std::string key = in.text(1u << 10);
      archive.metadata[key] = in.text(1u << 16);
      continue;
    }
    PNEUMA_CHECK(tag == 'T', "%s: unexpected record 0x%02x", in.label().c_str(), tag);
    std::string name = in.text(1u << 16);
    const uint8_t dtype = in.u8(), rank = in.u8();
    PNEUMA_CHECK((dtype == static_cast<uint8_t>(DType::f32) || dtype == static_cast<uint8_t>(DType::f64) ||
                  dtype == static_cast<uint8_t>(DType::i64)) &&
                     rank <= kMaxRank,
                 "%s: malformed tensor record", in.label().c_str());
    Shape shape;
    uint64_t bytes = dtype_size(static_cast<DType>(dtype));
    for (uint8_t i = 0; i < rank; ++i) {
      const uint64_t d = in.u64();
      PNEUMA_CHECK(d <= (1ull << 40) && !__builtin_mul_overflow(bytes, d, &bytes) && bytes <= max_tensor_bytes,
                   "%s: tensor record too large", in.label().c_str());
      shape.push_back(static_cast<int64_t>(d));
    }
    Tensor tensor = Tensor::empty(shape, static_cast<DType>(dtype));
    in.bytes(tensor.raw_data(), tensor.nbytes());
    archive.tensors.push_back({std::move(name), std::move(tensor)});
  }
}

}  // namespace

TensorArchive read_keras_h5(const std::string& path) {
  struct stat info {};
  PNEUMA_CHECK(::stat(path.c_str(), &info) == 0, "Keras file %s: cannot open: %s", path.c_str(), std::strerror(errno));
  PNEUMA_CHECK(S_ISREG(info.st_mode), "Keras file %s: not a regular file", path.c_str());
  const auto file_bytes = static_cast<uint64_t>(info.st_size);
  // Initialise libhdf5 once here, so each child starts from the initialised library instead of paying for it;
  // the parent itself never opens a file with it.
  static const bool initialised = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return H5open() >= 0;
  }();
  PNEUMA_CHECK(initialised, "Keras file %s: libhdf5 failed to initialise", path.c_str());
  TensorArchive archive;
  run_in_child_process(
      "Keras file " + path + ": libhdf5", kInactivitySeconds, kChildMemoryBase + 3 * file_bytes,
      [&](StreamWriter& out) {
        // Silence libhdf5's printing of its error stack: its failures become our one-line errors.
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
        try {
          KerasReader(path, file_bytes, out).read();
        } catch (const Error& error) {
          out.u8('E');
          out.text(error.what());
        }
      },
      [&](StreamReader& in) { archive = receive(in, path, file_bytes); });
  return archive;
}

}  // namespace pneuma::weights_import
