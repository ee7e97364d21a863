// A small, safe interpreter for Python pickles (protocols 2–5): exactly the opcodes that torch.save writes for a
// state_dict (and dicts wrapping one), nothing that executes code. Callables are never called: a GLOBAL becomes an
// opaque value, and what REDUCE, BUILD and BINPERSID mean is decided by a subclass (the PyTorch reader gives meaning
// to collections.OrderedDict, torch._utils._rebuild_tensor_v2, storages, ...). Anything else — an unknown opcode,
// a global the subclass does not know, a malformed argument — is one pneuma::Error naming it and its byte offset.
//
// Values live in an arena owned by the machine and refer to each other by plain pointers, so hostile pickles that
// build reference cycles or million-deep nesting cannot leak memory or overflow the stack on destruction; the
// number of values is bounded by the pickle's length.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace pneuma::weights_import::pickle {

struct Value {
  enum class Kind : uint8_t { none, boolean, integer, floating, text, bytes, tuple, list, dict, global, object };
  Kind kind = Kind::none;
  bool boolean = false;
  int64_t integer = 0;
  double floating = 0;
  std::string text;                                // text, bytes; global: "module.name"; object: a type label
  std::vector<Value*> items;                       // tuple, list
  std::vector<std::pair<Value*, Value*>> entries;  // dict, in insertion order
  int64_t handle = -1;                             // object: an index into the subclass's own table
  uint64_t offset = 0;                             // byte offset of the opcode that made it (for messages)
};

const char* kind_name(Value::Kind kind);

class Machine {
 public:
  virtual ~Machine() = default;

  // Runs `program` to its STOP and returns the value left on the stack. `label` names the pickle in messages
  // (e.g. "model.pth: archive/data.pkl").
  Value* run(std::string_view program, const std::string& label);

  const std::string& label() const { return label_; }
  // Throws pneuma::Error "<label>: byte <offset>: <message>".
  [[noreturn]] void fail_at(uint64_t offset, const std::string& message) const;

 protected:
  // A GLOBAL / STACK_GLOBAL: return the value that stands for module.name or fail naming it.
  virtual Value* find_global(const std::string& module, const std::string& name, uint64_t offset) = 0;
  // REDUCE: callable(*args), where `args` is a tuple.
  virtual Value* reduce(Value* callable, Value* args, uint64_t offset) = 0;
  // BINPERSID: the object behind a persistent id.
  virtual Value* persistent_load(Value* id, uint64_t offset) = 0;
  // BUILD: object.__setstate__(state). The default accepts attribute dicts on dicts (OrderedDict._metadata) and
  // rejects everything else.
  virtual void build(Value* object, Value* state, uint64_t offset);

  Value* make(Value::Kind kind, uint64_t offset);
  Value* make_object(const std::string& type, int64_t handle, uint64_t offset);

 private:
  class Reader;
  Value* pop(uint64_t offset);
  std::vector<Value*> pop_to_mark(uint64_t offset);
  void add_to(Value* container, std::vector<Value*> values, uint64_t offset);
  void memo_put(uint64_t index, uint64_t offset);
  Value* memo_get(uint64_t index, uint64_t offset);

  std::string label_;
  std::vector<std::unique_ptr<Value>> arena_;
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value*> memo_;
};

}  // namespace pneuma::weights_import::pickle
