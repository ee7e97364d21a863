// The pickle opcode loop: decodes one opcode at a time, checks every length against the bytes that remain and
// every stack access against the stack, and hands GLOBAL / REDUCE / BUILD / BINPERSID to the subclass.
#include "weights_import/pickle_machine.h"

#include <bit>
#include <cstring>

#include "kernels/error.h"

namespace pneuma::weights_import::pickle {

const char* kind_name(Value::Kind kind) {
  switch (kind) {
    case Value::Kind::none:
      return "None";
    case Value::Kind::boolean:
      return "bool";
    case Value::Kind::integer:
      return "int";
    case Value::Kind::floating:
      return "float";
    case Value::Kind::text:
      return "str";
    case Value::Kind::bytes:
      return "bytes";
    case Value::Kind::tuple:
      return "tuple";
    case Value::Kind::list:
      return "list";
    case Value::Kind::dict:
      return "dict";
    case Value::Kind::global:
      return "global";
    case Value::Kind::object:
      return "object";
  }
  return "?";
}

namespace {

std::string opcode_name(uint8_t op) {
  char text[32];
  if (op >= 0x21 && op < 0x7f) {
    std::snprintf(text, sizeof text, "0x%02x ('%c')", op, op);
  } else {
    std::snprintf(text, sizeof text, "0x%02x", op);
  }
  return text;
}

}  // namespace

// Bounds-checked little-endian reads from the program.
class Machine::Reader {
 public:
  Reader(const Machine& machine, std::string_view program) : machine_(machine), program_(program) {}
  bool done() const { return position_ >= program_.size(); }
  uint64_t position() const { return position_; }

  std::string_view take(uint64_t count, uint64_t op_offset, const char* what) {
    if (count > program_.size() - position_)
      machine_.fail_at(op_offset, std::string(what) + " needs " + std::to_string(count) + " bytes but only " +
                                      std::to_string(program_.size() - position_) + " remain (truncated pickle?)");
    std::string_view out = program_.substr(position_, count);
    position_ += count;
    return out;
  }
  uint64_t unsigned_le(int bytes, uint64_t op_offset, const char* what) {
    std::string_view raw = take(bytes, op_offset, what);
    uint64_t value = 0;
    for (int i = bytes - 1; i >= 0; --i) value = value << 8 | static_cast<unsigned char>(raw[i]);
    return value;
  }
  // A line ending in '\n' (GLOBAL's operands).
  std::string line(uint64_t op_offset) {
    const size_t end = program_.find('\n', position_);
    if (end == std::string_view::npos || end - position_ > 1024)
      machine_.fail_at(op_offset, "GLOBAL operand is not a newline-terminated name");
    std::string out(program_.substr(position_, end - position_));
    position_ = end + 1;
    return out;
  }

 private:
  const Machine& machine_;
  std::string_view program_;
  uint64_t position_ = 0;
};

void Machine::fail_at(uint64_t offset, const std::string& message) const {
  PNEUMA_FAIL("%s: byte %llu: %s", label_.c_str(), static_cast<unsigned long long>(offset), message.c_str());
}

Value* Machine::make(Value::Kind kind, uint64_t offset) {
  arena_.push_back(std::make_unique<Value>());
  Value* value = arena_.back().get();
  value->kind = kind;
  value->offset = offset;
  return value;
}

Value* Machine::make_object(const std::string& type, int64_t handle, uint64_t offset) {
  Value* value = make(Value::Kind::object, offset);
  value->text = type;
  value->handle = handle;
  return value;
}

Value* Machine::pop(uint64_t offset) {
  const size_t floor = marks_.empty() ? 0 : marks_.back();
  if (stack_.size() <= floor) fail_at(offset, "stack underflow");
  Value* value = stack_.back();
  stack_.pop_back();
  return value;
}

std::vector<Value*> Machine::pop_to_mark(uint64_t offset) {
  if (marks_.empty()) fail_at(offset, "no MARK on the stack");
  const size_t mark = marks_.back();
  marks_.pop_back();
  std::vector<Value*> values(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
  stack_.resize(mark);
  return values;
}

void Machine::add_to(Value* container, std::vector<Value*> values, uint64_t offset) {
  if (container->kind == Value::Kind::list) {
    container->items.insert(container->items.end(), values.begin(), values.end());
  } else if (container->kind == Value::Kind::dict) {
    if (values.size() % 2 != 0) fail_at(offset, "SETITEMS with an odd number of stack items");
    for (size_t i = 0; i < values.size(); i += 2) container->entries.emplace_back(values[i], values[i + 1]);
  } else {
    fail_at(offset, std::string("cannot add items to a ") + kind_name(container->kind) +
                        (container->kind == Value::Kind::object ? " (" + container->text + ")" : std::string()));
  }
}

void Machine::memo_put(uint64_t index, uint64_t offset) {
  if (stack_.empty()) fail_at(offset, "memo store from an empty stack");
  memo_[index] = stack_.back();
}

Value* Machine::memo_get(uint64_t index, uint64_t offset) {
  const auto found = memo_.find(index);
  if (found == memo_.end()) fail_at(offset, "memo entry " + std::to_string(index) + " was never stored");
  return found->second;
}

void Machine::build(Value* object, Value* state, uint64_t offset) {
  // OrderedDict state_dicts carry their `_metadata` (per-module versions) as attributes: nothing we need.
  if (object->kind == Value::Kind::dict && (state->kind == Value::Kind::dict || state->kind == Value::Kind::none))
    return;
  fail_at(offset, std::string("BUILD on a ") + kind_name(object->kind) +
                      (object->kind == Value::Kind::object ? " (" + object->text + ")" : std::string()) +
                      " is not supported");
}

Value* Machine::run(std::string_view program, const std::string& label) {
  label_ = label;
  Reader in(*this, program);
  using Kind = Value::Kind;
  auto push = [&](Value* value) { stack_.push_back(value); };
  auto text_value = [&](Kind kind, std::string_view bytes, uint64_t offset) {
    Value* value = make(kind, offset);
    value->text.assign(bytes);
    push(value);
  };
  auto tuple_of = [&](std::vector<Value*> items, uint64_t offset) {
    Value* value = make(Kind::tuple, offset);
    value->items = std::move(items);
    push(value);
  };

  while (!in.done()) {
    const uint64_t at = in.position();
    const uint8_t op = static_cast<uint8_t>(in.take(1, at, "opcode")[0]);
    switch (op) {
      case 0x80: {  // PROTO
        const uint64_t version = in.unsigned_le(1, at, "PROTO");
        if (version < 2 || version > 5)
          fail_at(at, "pickle protocol " + std::to_string(version) + " is not supported (2 to 5 are)");
        break;
      }
      case 0x95:  // FRAME: a length hint only; the frame's opcodes follow inline
        in.unsigned_le(8, at, "FRAME");
        break;
      case '.': {  // STOP
        if (stack_.size() != 1 || !marks_.empty())
          fail_at(at, "STOP with " + std::to_string(stack_.size()) + " values and " + std::to_string(marks_.size()) +
                          " marks on the stack (expected exactly one value)");
        return stack_.back();
      }
      case '}':
        push(make(Kind::dict, at));
        break;
      case ']':
        push(make(Kind::list, at));
        break;
      case ')':
        tuple_of({}, at);
        break;
      case '(':
        marks_.push_back(stack_.size());
        break;
      case 't':
        tuple_of(pop_to_mark(at), at);
        break;
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        std::vector<Value*> items(op - 0x84);
        for (size_t i = items.size(); i-- > 0;) items[i] = pop(at);
        tuple_of(std::move(items), at);
        break;
      }
      case 'X':
        text_value(Kind::text, in.take(in.unsigned_le(4, at, "BINUNICODE"), at, "BINUNICODE"), at);
        break;
      case 0x8c:
        text_value(Kind::text, in.take(in.unsigned_le(1, at, "SHORT_BINUNICODE"), at, "SHORT_BINUNICODE"), at);
        break;
      case 0x8d:
        text_value(Kind::text, in.take(in.unsigned_le(8, at, "BINUNICODE8"), at, "BINUNICODE8"), at);
        break;
      case 'T': {  // BINSTRING: signed 4-byte length
        const uint64_t length = in.unsigned_le(4, at, "BINSTRING");
        if (length > 0x7fffffffu) fail_at(at, "BINSTRING with a negative length");
        text_value(Kind::text, in.take(length, at, "BINSTRING"), at);
        break;
      }
      case 'U':
        text_value(Kind::text, in.take(in.unsigned_le(1, at, "SHORT_BINSTRING"), at, "SHORT_BINSTRING"), at);
        break;
      case 'B':
        text_value(Kind::bytes, in.take(in.unsigned_le(4, at, "BINBYTES"), at, "BINBYTES"), at);
        break;
      case 'C':
        text_value(Kind::bytes, in.take(in.unsigned_le(1, at, "SHORT_BINBYTES"), at, "SHORT_BINBYTES"), at);
        break;
      case 0x8e:
        text_value(Kind::bytes, in.take(in.unsigned_le(8, at, "BINBYTES8"), at, "BINBYTES8"), at);
        break;
      case 'c': {  // GLOBAL "module\nname\n"
        const std::string module = in.line(at);
        const std::string name = in.line(at);
        push(find_global(module, name, at));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        Value* name = pop(at);
        Value* module = pop(at);
        if (module->kind != Kind::text || name->kind != Kind::text) fail_at(at, "STACK_GLOBAL needs two strings");
        push(find_global(module->text, name->text, at));
        break;
      }
      case 'Q':
        push(persistent_load(pop(at), at));
        break;     // BINPERSID
      case 'J': {  // BININT: signed 4 bytes
        Value* value = make(Kind::integer, at);
        value->integer = static_cast<int32_t>(static_cast<uint32_t>(in.unsigned_le(4, at, "BININT")));
        push(value);
        break;
      }
      case 'K':
      case 'M': {  // BININT1, BININT2: unsigned
        Value* value = make(Kind::integer, at);
        value->integer = static_cast<int64_t>(in.unsigned_le(op == 'K' ? 1 : 2, at, "BININT"));
        push(value);
        break;
      }
      case 0x8a: {  // LONG1: little-endian two's complement of n bytes
        const uint64_t length = in.unsigned_le(1, at, "LONG1");
        if (length > 8) fail_at(at, "LONG1 of " + std::to_string(length) + " bytes does not fit 64 bits");
        Value* value = make(Kind::integer, at);
        if (length > 0) {
          uint64_t bits = in.unsigned_le(static_cast<int>(length), at, "LONG1");
          if (length < 8 && (bits >> (8 * length - 1) & 1)) bits |= ~uint64_t{0} << (8 * length);  // sign-extend
          value->integer = static_cast<int64_t>(bits);
        }
        push(value);
        break;
      }
      case 0x88:
      case 0x89: {  // NEWTRUE, NEWFALSE
        Value* value = make(Kind::boolean, at);
        value->boolean = op == 0x88;
        push(value);
        break;
      }
      case 'N':
        push(make(Kind::none, at));
        break;
      case 'G': {  // BINFLOAT: big-endian IEEE double
        const std::string_view raw = in.take(8, at, "BINFLOAT");
        uint64_t bits = 0;
        for (char c : raw) bits = bits << 8 | static_cast<unsigned char>(c);
        Value* value = make(Kind::floating, at);
        value->floating = std::bit_cast<double>(bits);
        push(value);
        break;
      }
      case 'R': {  // REDUCE
        Value* args = pop(at);
        Value* callable = pop(at);
        if (args->kind != Kind::tuple)
          fail_at(at, std::string("REDUCE arguments are a ") + kind_name(args->kind) + ", not a tuple");
        push(reduce(callable, args, at));
        break;
      }
      case 'b': {  // BUILD
        Value* state = pop(at);
        if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail_at(at, "stack underflow");
        build(stack_.back(), state, at);
        break;
      }
      case 's': {  // SETITEM
        Value* value = pop(at);
        Value* key = pop(at);
        if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail_at(at, "stack underflow");
        Value* dict = stack_.back();
        if (dict->kind != Kind::dict) fail_at(at, std::string("SETITEM on a ") + kind_name(dict->kind));
        dict->entries.emplace_back(key, value);
        break;
      }
      case 'u':
      case 'e': {  // SETITEMS, APPENDS
        std::vector<Value*> values = pop_to_mark(at);
        if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail_at(at, "stack underflow");
        Value* container = stack_.back();
        if ((op == 'u') != (container->kind == Kind::dict))
          fail_at(at, std::string(op == 'u' ? "SETITEMS" : "APPENDS") + " on a " + kind_name(container->kind));
        add_to(container, std::move(values), at);
        break;
      }
      case 'a': {  // APPEND
        Value* value = pop(at);
        if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail_at(at, "stack underflow");
        if (stack_.back()->kind != Kind::list)
          fail_at(at, std::string("APPEND on a ") + kind_name(stack_.back()->kind));
        add_to(stack_.back(), {value}, at);
        break;
      }
      case 'h':
        push(memo_get(in.unsigned_le(1, at, "BINGET"), at));
        break;
      case 'j':
        push(memo_get(in.unsigned_le(4, at, "LONG_BINGET"), at));
        break;
      case 'q':
        memo_put(in.unsigned_le(1, at, "BINPUT"), at);
        break;
      case 'r':
        memo_put(in.unsigned_le(4, at, "LONG_BINPUT"), at);
        break;
      case 0x94:
        memo_put(memo_.size(), at);
        break;  // MEMOIZE
      case '0':
        pop(at);
        break;  // POP
      case '1':
        pop_to_mark(at);
        break;     // POP_MARK
      case '2': {  // DUP
        Value* top = pop(at);
        push(top);
        push(top);
        break;
      }
      default:
        fail_at(at, "unsupported pickle opcode " + opcode_name(op) +
                        " (only the data subset that torch.save writes is understood)");
    }
  }
  fail_at(in.position(), "pickle ends without STOP (truncated?)");
}

}  // namespace pneuma::weights_import::pickle
