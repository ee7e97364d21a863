// The PyTorch zip checkpoint reader: finds data.pkl, runs it on a pickle machine that gives meaning to torch's
// storage and tensor-rebuilding globals, then copies each tensor of the state_dict out of its storage record with
// every offset and stride checked against the record's size.
#include "weights_import/torch_checkpoint.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>

#include "kernels/error.h"
#include "weights_import/pickle_machine.h"
#include "weights_import/printable.h"
#include "weights_import/zip_archive.h"

namespace pneuma::weights_import {
namespace {

using pickle::Value;
using Kind = Value::Kind;

constexpr uint64_t kMaxPickleBytes = 1ull << 30;
constexpr uint64_t kMaxStorageBytes = 1ull << 40;
constexpr size_t kMaxRank = 32;

// A torch element type: its name, size and our dtype (none when we cannot hold it).
struct TorchType {
  const char* name;
  size_t size;
  std::optional<DType> dtype;
};

const TorchType kTypes[] = {
    {"float32", 4, DType::f32},       {"float64", 8, DType::f64},
    {"float16", 2, DType::f16},       {"bfloat16", 2, DType::bf16},
    {"int64", 8, DType::i64},         {"int32", 4, DType::i32},
    {"uint8", 1, DType::u8},          {"bool", 1, DType::u8},
    {"int16", 2, std::nullopt},       {"int8", 1, std::nullopt},
    {"uint16", 2, std::nullopt},      {"uint32", 4, std::nullopt},
    {"uint64", 8, std::nullopt},      {"complex64", 8, std::nullopt},
    {"complex128", 16, std::nullopt}, {"float8_e4m3fn", 1, std::nullopt},
    {"float8_e5m2", 1, std::nullopt},
};

const TorchType* type_named(const std::string& name) {
  for (const TorchType& type : kTypes)
    if (name == type.name) return &type;
  return nullptr;
}

// torch.<dtype> globals (and their aliases) as written by _rebuild_tensor_v3.
const TorchType* dtype_global(const std::string& name) {
  static const std::pair<const char*, const char*> aliases[] = {
      {"float", "float32"}, {"double", "float64"}, {"half", "float16"},     {"long", "int64"},
      {"int", "int32"},     {"short", "int16"},    {"cfloat", "complex64"}, {"cdouble", "complex128"}};
  for (const auto& [alias, canonical] : aliases)
    if (name == alias) return type_named(canonical);
  return type_named(name);
}

// torch.<Name>Storage globals: the element type of a typed storage.
const TorchType* storage_global(const std::string& name) {
  static const std::pair<const char*, const char*> storages[] = {{"FloatStorage", "float32"},
                                                                 {"DoubleStorage", "float64"},
                                                                 {"HalfStorage", "float16"},
                                                                 {"BFloat16Storage", "bfloat16"},
                                                                 {"LongStorage", "int64"},
                                                                 {"IntStorage", "int32"},
                                                                 {"ByteStorage", "uint8"},
                                                                 {"BoolStorage", "bool"},
                                                                 {"ShortStorage", "int16"},
                                                                 {"CharStorage", "int8"},
                                                                 {"ComplexFloatStorage", "complex64"},
                                                                 {"ComplexDoubleStorage", "complex128"}};
  for (const auto& [storage, type] : storages)
    if (name == storage) return type_named(type);
  return nullptr;
}

constexpr TorchType kUntyped{"untyped bytes", 1, std::nullopt};

struct StorageRecord {
  std::string key;
  const TorchType* type;  // kUntyped for torch.UntypedStorage
  uint64_t elements;      // in `type` units (bytes when untyped)
  uint64_t offset;        // of the BINPERSID, for messages
};

struct TensorRecord {
  int64_t storage;
  const TorchType* type;
  int64_t storage_offset;
  Shape shape;
  std::vector<int64_t> strides;
  uint64_t offset;
};

// The pickle machine with torch's globals. Globals become Kind::global values; REDUCE of a known global makes a
// dict (OrderedDict), a tensor record or a parameter; storages come from BINPERSID.
class TorchUnpickler : public pickle::Machine {
 public:
  std::vector<StorageRecord> storages;
  std::vector<TensorRecord> tensors;

 protected:
  Value* find_global(const std::string& module, const std::string& name, uint64_t offset) override {
    const std::string full = module + "." + name;
    static const std::set<std::string> functions = {
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3",
        "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state"};
    const bool known =
        functions.count(full) > 0 ||
        (module == "torch" && (storage_global(name) || dtype_global(name) || name == "UntypedStorage")) ||
        full == "torch.storage.UntypedStorage";
    if (!known)
      fail_at(offset, "global '" + printable(full) +
                          "' is not part of a state_dict (only tensors, storages, dtypes "
                          "and OrderedDict are understood)");
    Value* value = make(Kind::global, offset);
    value->text = full;
    return value;
  }

  Value* persistent_load(Value* id, uint64_t offset) override {
    // ('storage', torch.<Type>Storage, key, location, element count)
    const bool shaped = id->kind == Kind::tuple && id->items.size() == 5 && id->items[0]->kind == Kind::text &&
                        id->items[0]->text == "storage" && id->items[1]->kind == Kind::global &&
                        id->items[2]->kind == Kind::text && id->items[3]->kind == Kind::text &&
                        id->items[4]->kind == Kind::integer;
    if (!shaped) fail_at(offset, "persistent id is not ('storage', type, key, location, size)");
    const std::string& type_name = id->items[1]->text;
    const TorchType* type = nullptr;
    if (type_name == "torch.UntypedStorage" || type_name == "torch.storage.UntypedStorage") {
      type = &kUntyped;
    } else if (type_name.rfind("torch.", 0) == 0) {
      type = storage_global(type_name.substr(6));
    }
    if (type == nullptr) fail_at(offset, "'" + printable(type_name) + "' is not a storage type");
    const int64_t elements = id->items[4]->integer;
    if (elements < 0 || static_cast<uint64_t>(elements) > kMaxStorageBytes / type->size)
      fail_at(offset,
              "storage '" + printable(id->items[2]->text) + "' claims " + std::to_string(elements) + " elements");
    storages.push_back({id->items[2]->text, type, static_cast<uint64_t>(elements), offset});
    return make_object("storage", static_cast<int64_t>(storages.size() - 1), offset);
  }

  Value* reduce(Value* callable, Value* args, uint64_t offset) override {
    if (callable->kind != Kind::global) fail_at(offset, std::string("REDUCE of a ") + kind_name(callable->kind));
    const std::string& name = callable->text;
    const std::vector<Value*>& a = args->items;
    if (name == "collections.OrderedDict") {
      if (!a.empty()) fail_at(offset, "OrderedDict with constructor arguments is not supported");
      return make(Kind::dict, offset);
    }
    if (name == "torch._utils._rebuild_tensor_v2") {
      if (a.size() != 6 && a.size() != 7)
        fail_at(offset, "_rebuild_tensor_v2 takes 6 or 7 arguments, got " + std::to_string(a.size()));
      return rebuild_tensor(a, nullptr, offset);
    }
    if (name == "torch._utils._rebuild_tensor_v3") {
      if (a.size() != 7 && a.size() != 8)
        fail_at(offset, "_rebuild_tensor_v3 takes 7 or 8 arguments, got " + std::to_string(a.size()));
      if (a[6]->kind != Kind::global || a[6]->text.rfind("torch.", 0) != 0 || !dtype_global(a[6]->text.substr(6)))
        fail_at(offset, "_rebuild_tensor_v3's dtype argument is not a torch dtype");
      return rebuild_tensor(a, dtype_global(a[6]->text.substr(6)), offset);
    }
    if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
      if (a.empty() || a[0]->kind != Kind::object || a[0]->text != "tensor")
        fail_at(offset, "_rebuild_parameter needs a tensor as its first argument");
      return a[0];
    }
    fail_at(offset, "'" + printable(name) + "' cannot be called");
  }

 private:
  std::vector<int64_t> int_tuple(Value* value, const char* what, uint64_t offset) {
    if ((value->kind != Kind::tuple && value->kind != Kind::list) || value->items.size() > kMaxRank)
      fail_at(offset, std::string("tensor ") + what + " is not a tuple of at most 32 integers");
    std::vector<int64_t> out;
    for (Value* item : value->items) {
      if (item->kind != Kind::integer || item->integer < 0)
        fail_at(offset, std::string("tensor ") + what + " holds a value that is not a non-negative integer");
      out.push_back(item->integer);
    }
    return out;
  }

  // (storage, storage_offset, size, stride, requires_grad, backward_hooks, ...): checked and recorded here; the
  // bounds against the storage are checked when the tensor is copied out (the storage's size is known then).
  Value* rebuild_tensor(const std::vector<Value*>& a, const TorchType* dtype, uint64_t offset) {
    if (a[0]->kind != Kind::object || a[0]->text != "storage") fail_at(offset, "tensor storage is not a storage");
    if (a[1]->kind != Kind::integer || a[1]->integer < 0)
      fail_at(offset, "tensor storage offset is not an integer >= 0");
    TensorRecord record;
    record.storage = a[0]->handle;
    record.storage_offset = a[1]->integer;
    record.shape = int_tuple(a[2], "size", offset);
    record.strides = int_tuple(a[3], "stride", offset);
    record.offset = offset;
    if (record.shape.size() != record.strides.size()) fail_at(offset, "tensor size and stride differ in length");
    const StorageRecord& storage = storages[static_cast<size_t>(record.storage)];
    if (dtype == nullptr) {
      if (storage.type == &kUntyped) fail_at(offset, "_rebuild_tensor_v2 on an untyped storage has no dtype");
      dtype = storage.type;
    } else if (storage.type != &kUntyped && storage.type != dtype) {
      fail_at(offset,
              std::string("tensor dtype ") + dtype->name + " disagrees with its " + storage.type->name + " storage");
    }
    record.type = dtype;
    tensors.push_back(std::move(record));
    return make_object("tensor", static_cast<int64_t>(tensors.size() - 1), offset);
  }
};

class TorchCheckpointReader {
 public:
  explicit TorchCheckpointReader(const std::string& path) : path_(path), zip_(path, "PyTorch checkpoint " + path) {}

  TensorArchive read() {
    locate_records();
    const ZipArchive::Entry* pickle_entry = zip_.find(prefix_ + "data.pkl");
    const std::string program = zip_.read(*pickle_entry, kMaxPickleBytes);
    Value* root = unpickler_.run(program, "PyTorch checkpoint " + path_ + ": " + prefix_ + "data.pkl");

    TensorArchive archive;
    archive.path = path_;
    archive.metadata["format"] = "torch";
    archive.metadata["torch.archive"] = prefix_.substr(0, prefix_.size() - 1);
    archive.metadata["torch.byteorder"] = big_endian_ ? "big" : "little";
    const Value* state = find_state_dict(root, archive.metadata);
    // How many tensors still need each storage, so its bytes are dropped after the last one (peak memory: the
    // tensors plus the storages in use, not twice the checkpoint).
    for (const auto& [key, value] : state->entries)
      if (value->kind == Kind::object && value->text == "tensor") ++storage_users_[storage_key_of(value->handle)];
    std::set<std::string> names;
    for (const auto& [key, value] : state->entries) {
      if (value->kind != Kind::object || value->text != "tensor") continue;
      if (key->kind != Kind::text)
        fail("a tensor's key is a " + std::string(pickle::kind_name(key->kind)) + ", not a string");
      if (!names.insert(key->text).second) fail("tensor '" + printable(key->text) + "' appears twice");
      archive.tensors.push_back({key->text, materialize(key->text, value->handle)});
      const std::string& storage_key = storage_key_of(value->handle);
      if (--storage_users_[storage_key] == 0) storage_cache_.erase(storage_key);
    }
    return archive;
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    PNEUMA_FAIL("PyTorch checkpoint %s: %s", path_.c_str(), message.c_str());
  }

  const std::string& storage_key_of(int64_t tensor_handle) const {
    const TensorRecord& tensor = unpickler_.tensors[static_cast<size_t>(tensor_handle)];
    return unpickler_.storages[static_cast<size_t>(tensor.storage)].key;
  }

  // Finds "<prefix>/data.pkl" and reads "<prefix>/byteorder".
  void locate_records() {
    std::vector<std::string> prefixes;
    for (const ZipArchive::Entry& entry : zip_.entries()) {
      const size_t slash = entry.name.find('/');
      if (slash != std::string::npos && entry.name.compare(slash, std::string::npos, "/data.pkl") == 0)
        prefixes.push_back(entry.name.substr(0, slash + 1));
    }
    if (prefixes.empty()) {
      const bool torchscript = std::any_of(zip_.entries().begin(), zip_.entries().end(), [](const auto& e) {
        return e.name.find("constants.pkl") != std::string::npos;
      });
      fail(torchscript ? "this is a TorchScript archive (torch.jit.save); save the model's state_dict with "
                         "torch.save(model.state_dict(), path) instead"
                       : "zip archive has no <name>/data.pkl: not a torch.save checkpoint");
    }
    if (prefixes.size() > 1) fail("zip archive holds " + std::to_string(prefixes.size()) + " data.pkl records");
    prefix_ = prefixes.front();
    if (const ZipArchive::Entry* order = zip_.find(prefix_ + "byteorder")) {
      const std::string text = zip_.read(*order, 64);
      if (text != "little" && text != "big") fail("byteorder record says '" + printable(text) + "'");
      big_endian_ = text == "big";
    }
  }

  // The state_dict: the root dict, or a dict under "state_dict" / "model" (up to two levels of wrapping).
  const Value* find_state_dict(const Value* root, std::map<std::string, std::string>& metadata) const {
    const Value* current = root;
    std::string path;
    for (int level = 0; level < 3; ++level) {
      if (current->kind != Kind::dict)
        fail(std::string("data.pkl holds a ") + pickle::kind_name(current->kind) +
             (path.empty() ? "" : " under " + path) + ", not a dict of tensors");
      const bool has_tensors = std::any_of(current->entries.begin(), current->entries.end(), [](const auto& e) {
        return e.second->kind == Kind::object && e.second->text == "tensor";
      });
      if (has_tensors) {
        if (!path.empty()) metadata["torch.state_dict_key"] = path;
        return current;
      }
      const Value* next = nullptr;
      for (const char* wrapper : {"state_dict", "model"}) {
        for (const auto& [key, value] : current->entries)
          if (next == nullptr && key->kind == Kind::text && key->text == wrapper) {
            next = value;
            path += (path.empty() ? "" : "/") + key->text;
          }
      }
      if (next == nullptr) break;
      current = next;
    }
    fail("data.pkl holds no tensors" +
         (path.empty() ? std::string(" (and no \"state_dict\" or \"model\" entry)") : " under " + path));
  }

  const std::string& storage_bytes(const StorageRecord& storage) {
    const auto cached = storage_cache_.find(storage.key);
    if (cached != storage_cache_.end()) return cached->second;
    const std::string record = prefix_ + "data/" + storage.key;
    const ZipArchive::Entry* entry = zip_.find(record);
    if (entry == nullptr) fail("storage record '" + printable(record) + "' is missing");
    return storage_cache_.emplace(storage.key, zip_.read(*entry, kMaxStorageBytes)).first->second;
  }

  Tensor materialize(const std::string& name, int64_t handle) {
    const TensorRecord& record = unpickler_.tensors[static_cast<size_t>(handle)];
    const StorageRecord& storage = unpickler_.storages[static_cast<size_t>(record.storage)];
    const std::string label = "tensor '" + printable(name) + "' (data.pkl byte " + std::to_string(record.offset) + ")";
    if (!record.type->dtype)
      fail(label + ": dtype " + record.type->name +
           " is not supported (float32, float64, float16, bfloat16, int64, int32, uint8 and bool are)");
    const size_t element = record.type->size;
    const uint64_t storage_bytes_declared = storage.elements * storage.type->size;

    // Highest element index the view touches, with overflow checks.
    uint64_t count = 1, last = static_cast<uint64_t>(record.storage_offset);
    for (size_t i = 0; i < record.shape.size(); ++i) {
      const auto size = static_cast<uint64_t>(record.shape[i]);
      if (__builtin_mul_overflow(count, size, &count) || count > (1ull << 62))
        fail(label + ": shape " + shape_string(record.shape) + " overflows");
    }
    if (count > 0) {
      for (size_t i = 0; i < record.shape.size(); ++i) {
        uint64_t reach = 0;
        if (__builtin_mul_overflow(static_cast<uint64_t>(record.shape[i] - 1), static_cast<uint64_t>(record.strides[i]),
                                   &reach) ||
            __builtin_add_overflow(last, reach, &last))
          fail(label + ": strides overflow");
      }
      uint64_t end_byte = 0;
      if (__builtin_mul_overflow(last + 1, uint64_t{element}, &end_byte) || end_byte > storage_bytes_declared)
        fail(label + ": offset " + std::to_string(record.storage_offset) + ", shape " + shape_string(record.shape) +
             " and strides reach past the end of storage '" + printable(storage.key) + "' (" +
             std::to_string(storage_bytes_declared) + " bytes)");
    }
    if (count == 0) return Tensor::empty(record.shape, *record.type->dtype);
    // The storage's real size bounds everything before the tensor is allocated.
    const std::string& bytes = storage_bytes(storage);
    if (bytes.size() < storage_bytes_declared)
      fail(label + ": storage record '" + printable(storage.key) + "' holds " + std::to_string(bytes.size()) +
           " bytes but its pickle declares " + std::to_string(storage_bytes_declared));
    // Zero strides (expanded views) repeat storage: allow it, but not as a way to allocate unbounded memory.
    if (count * element > bytes.size() * 16 + (1u << 20))
      fail(label + ": a view of " + std::to_string(bytes.size()) + " storage bytes expanding to " +
           std::to_string(count * element) + " bytes (stride-0 broadcasting this large is not supported)");
    Tensor tensor = Tensor::empty(record.shape, *record.type->dtype);

    // Gather element by element in row-major order (a plain copy when the view is contiguous).
    char* out = static_cast<char*>(tensor.raw_data());
    const char* base = bytes.data();
    const std::vector<int64_t> contiguous = contiguous_strides(record.shape);
    if (record.strides == contiguous || count == 1) {
      std::memcpy(out, base + record.storage_offset * element, count * element);
    } else {
      std::vector<int64_t> index(record.shape.size(), 0);
      for (uint64_t i = 0; i < count; ++i) {
        int64_t source = record.storage_offset;
        for (size_t d = 0; d < index.size(); ++d) source += index[d] * record.strides[d];
        std::memcpy(out + i * element, base + source * element, element);
        for (size_t d = index.size(); d-- > 0;) {
          if (++index[d] < record.shape[d]) break;
          index[d] = 0;
        }
      }
    }
    if (big_endian_ && element > 1)
      for (uint64_t i = 0; i < count; ++i) std::reverse(out + i * element, out + (i + 1) * element);
    if (std::strcmp(record.type->name, "bool") == 0)  // bool → u8 0/1 (any non-zero byte is true)
      for (uint64_t i = 0; i < count; ++i) out[i] = out[i] != 0;
    return tensor;
  }

  std::string path_;
  ZipArchive zip_;
  std::string prefix_;
  bool big_endian_ = false;
  TorchUnpickler unpickler_;
  std::unordered_map<std::string, std::string> storage_cache_;
  std::unordered_map<std::string, int64_t> storage_users_;
};

}  // namespace

TensorArchive read_torch_checkpoint(const std::string& path) { return TorchCheckpointReader(path).read(); }

}  // namespace pneuma::weights_import
