#include "formats/pickle.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "core/check.h"

namespace sdr {

std::string_view PickleKindName(PickleKind kind) {
  switch (kind) {
    case PickleKind::kNone: return "none";
    case PickleKind::kBool: return "bool";
    case PickleKind::kInt: return "int";
    case PickleKind::kFloat: return "float";
    case PickleKind::kString: return "str";
    case PickleKind::kBytes: return "bytes";
    case PickleKind::kTuple: return "tuple";
    case PickleKind::kList: return "list";
    case PickleKind::kDict: return "dict";
    case PickleKind::kSet: return "set";
    case PickleKind::kGlobal: return "global";
    case PickleKind::kCall: return "call";
    case PickleKind::kPersistentId: return "persistent_id";
  }
  return "?";
}

const PickleValue& PickleGraph::at(PickleRef r) const {
  SDR_CHECK(r < values_.size());
  return values_[r];
}

PickleRef PickleGraph::DictGet(PickleRef dict, std::string_view key) const {
  const PickleValue& d = at(dict);
  if (d.kind != PickleKind::kDict) return kNoPickleRef;
  PickleRef found = kNoPickleRef;
  for (size_t i = 0; i + 1 < d.items.size(); i += 2) {
    const PickleValue& k = at(d.items[i]);
    if (k.kind == PickleKind::kString && k.text == key) found = d.items[i + 1];
  }
  return found;
}

namespace {

// Opcode names (pickletools' spelling) for error messages; empty for unknown bytes.
std::string_view OpName(uint8_t op) {
  switch (op) {
    case '(': return "MARK";
    case '.': return "STOP";
    case '0': return "POP";
    case '1': return "POP_MARK";
    case '2': return "DUP";
    case 'F': return "FLOAT";
    case 'I': return "INT";
    case 'J': return "BININT";
    case 'K': return "BININT1";
    case 'L': return "LONG";
    case 'M': return "BININT2";
    case 'N': return "NONE";
    case 'P': return "PERSID";
    case 'Q': return "BINPERSID";
    case 'R': return "REDUCE";
    case 'S': return "STRING";
    case 'T': return "BINSTRING";
    case 'U': return "SHORT_BINSTRING";
    case 'V': return "UNICODE";
    case 'X': return "BINUNICODE";
    case 'a': return "APPEND";
    case 'b': return "BUILD";
    case 'c': return "GLOBAL";
    case 'd': return "DICT";
    case '}': return "EMPTY_DICT";
    case 'e': return "APPENDS";
    case 'g': return "GET";
    case 'h': return "BINGET";
    case 'i': return "INST";
    case 'j': return "LONG_BINGET";
    case 'l': return "LIST";
    case ']': return "EMPTY_LIST";
    case 'o': return "OBJ";
    case 'p': return "PUT";
    case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT";
    case 's': return "SETITEM";
    case 't': return "TUPLE";
    case ')': return "EMPTY_TUPLE";
    case 'u': return "SETITEMS";
    case 'G': return "BINFLOAT";
    case 0x80: return "PROTO";
    case 0x81: return "NEWOBJ";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2";
    case 0x87: return "TUPLE3";
    case 0x88: return "NEWTRUE";
    case 0x89: return "NEWFALSE";
    case 0x8a: return "LONG1";
    case 0x8b: return "LONG4";
    case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES";
    case 0x8c: return "SHORT_BINUNICODE";
    case 0x8d: return "BINUNICODE8";
    case 0x8e: return "BINBYTES8";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x92: return "NEWOBJ_EX";
    case 0x93: return "STACK_GLOBAL";
    case 0x94: return "MEMOIZE";
    case 0x95: return "FRAME";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return {};
  }
}

std::string HexByte(uint8_t b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  return std::string("0x") + kDigits[b >> 4] + kDigits[b & 15];
}

// Printable form of a name read from the file (for error messages).
std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 200)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      out += "\\x" + HexByte(u).substr(2);
    }
  }
  if (s.size() > 200) out += "...";
  return out;
}

}  // namespace

class Unpickler {
 public:
  Unpickler(std::string_view bytes, const UnpickleOptions& options, const std::string& what)
      : in_(bytes), limits_(options.limits), what_(what),
        allowed_(options.allowed_globals.begin(), options.allowed_globals.end()) {}

  Result<PickleGraph> Run() {
    // Shared immutable singletons.
    SDR_CHECK(NewValue(PickleKind::kNone).ok());
    SDR_CHECK(NewValueInt(PickleKind::kBool, 0).ok());
    SDR_CHECK(NewValueInt(PickleKind::kBool, 1).ok());
    SDR_CHECK(NewValue(PickleKind::kTuple).ok());
    while (pos_ < in_.size()) {
      op_offset_ = pos_;
      op_ = static_cast<uint8_t>(in_[pos_++]);
      bool stop = false;
      SDR_RETURN_IF_ERROR(Step(&stop));
      if (stop) return std::move(graph_);
    }
    return CorruptData(what_ + ": pickle ends at byte " + std::to_string(in_.size()) +
                       " without a STOP opcode (truncated?)");
  }

 private:
  static constexpr PickleRef kNoneRef = 0, kFalseRef = 1, kTrueRef = 2, kEmptyTupleRef = 3;

  Status Err(const std::string& msg) const {
    return CorruptData(what_ + ": " + msg + " (" + OpDesc() + ")");
  }
  std::string OpDesc() const {
    std::string_view name = OpName(op_);
    return "opcode " + (name.empty() ? HexByte(op_) : std::string(name)) + " at offset " +
           std::to_string(op_offset_);
  }

  Result<std::string_view> Take(uint64_t n) {
    if (in_.size() - pos_ < n) {
      return Err("truncated: needs " + std::to_string(n) + " bytes, " +
                 std::to_string(in_.size() - pos_) + " left");
    }
    std::string_view s = in_.substr(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }
  Result<uint64_t> TakeLe(int n) {
    SDR_ASSIGN_OR_RETURN(std::string_view s, Take(static_cast<uint64_t>(n)));
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[i]);
    return v;
  }
  Result<std::string_view> TakeLine() {
    const size_t nl = in_.find('\n', pos_);
    if (nl == std::string_view::npos) return Err("truncated: no newline after the operand");
    std::string_view s = in_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    return s;
  }

  Result<PickleRef> NewValue(PickleKind kind) {
    if (graph_.values_.size() >= limits_.max_values) {
      return Err("more than " + std::to_string(limits_.max_values) + " values");
    }
    graph_.values_.emplace_back();
    graph_.values_.back().kind = kind;
    return static_cast<PickleRef>(graph_.values_.size() - 1);
  }
  Result<PickleRef> NewValueInt(PickleKind kind, int64_t v) {
    SDR_ASSIGN_OR_RETURN(PickleRef r, NewValue(kind));
    graph_.values_[r].int_value = v;
    return r;
  }
  PickleValue& V(PickleRef r) { return graph_.values_[r]; }

  // Bottom of the current MARK frame: items below it are out of reach of plain pops.
  size_t FrameBase() const { return marks_.empty() ? 0 : marks_.back(); }

  Status Push(PickleRef r) {
    if (stack_.size() >= limits_.max_stack) {
      return Err("stack deeper than " + std::to_string(limits_.max_stack));
    }
    stack_.push_back(r);
    return Status::Ok();
  }
  Result<PickleRef> Pop() {
    if (stack_.size() <= FrameBase()) return Err("stack underflow");
    const PickleRef r = stack_.back();
    stack_.pop_back();
    return r;
  }
  Result<PickleRef> Top() {
    if (stack_.size() <= FrameBase()) return Err("stack underflow");
    return stack_.back();
  }
  // Items pushed since the last MARK (removed from the stack, the mark popped).
  Result<std::vector<PickleRef>> PopMark() {
    if (marks_.empty()) return Err("no MARK on the stack");
    const size_t base = marks_.back();
    marks_.pop_back();
    std::vector<PickleRef> items(stack_.begin() + static_cast<std::ptrdiff_t>(base), stack_.end());
    stack_.resize(base);
    return items;
  }

  Status CheckDepth(uint32_t depth) {
    if (depth > limits_.max_depth) {
      return Err("values nested deeper than " + std::to_string(limits_.max_depth));
    }
    return Status::Ok();
  }
  // Makes a container value from `items`.
  Result<PickleRef> NewContainer(PickleKind kind, std::vector<PickleRef> items) {
    uint32_t depth = 0;
    for (PickleRef r : items) depth = std::max(depth, V(r).depth);
    SDR_RETURN_IF_ERROR(CheckDepth(depth + 1));
    SDR_ASSIGN_OR_RETURN(PickleRef r, NewValue(kind));
    V(r).items = std::move(items);
    V(r).depth = depth + 1;
    return r;
  }
  // Appends to a mutable container (list/set/dict), keeping its depth up to date.
  Status Extend(PickleRef target, PickleKind want, const std::vector<PickleRef>& items) {
    if (V(target).kind != want) {
      return Err("target is a " + std::string(PickleKindName(V(target).kind)) + ", not a " +
                 std::string(PickleKindName(want)));
    }
    if (want == PickleKind::kDict && items.size() % 2 != 0) {
      return Err("odd number of items for a dict");
    }
    uint32_t depth = V(target).depth;
    for (PickleRef r : items) depth = std::max(depth, V(r).depth + 1);
    SDR_RETURN_IF_ERROR(CheckDepth(depth));
    V(target).depth = depth;
    V(target).items.insert(V(target).items.end(), items.begin(), items.end());
    return Status::Ok();
  }

  Status Memo(uint64_t index) {
    SDR_ASSIGN_OR_RETURN(PickleRef top, Top());
    if (memo_.size() >= limits_.max_memo && memo_.count(index) == 0) {
      return Err("memo larger than " + std::to_string(limits_.max_memo) + " entries");
    }
    memo_[index] = top;
    return Status::Ok();
  }
  Status Get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) return Err("memo key " + std::to_string(index) + " is not set");
    return Push(it->second);
  }

  Status PushString(PickleKind kind, uint64_t len) {
    SDR_ASSIGN_OR_RETURN(std::string_view s, Take(len));
    SDR_ASSIGN_OR_RETURN(PickleRef r, NewValue(kind));
    V(r).text.assign(s);
    return Push(r);
  }

  Status PushGlobal(std::string_view module, std::string_view name) {
    std::string full = std::string(module) + "." + std::string(name);
    if (allowed_.count(full) == 0) {
      return SecurityError(what_ + ": pickle global '" + Printable(full) +
                           "' is not allowed (" + OpDesc() +
                           "); only the types torch.save uses for tensors are accepted");
    }
    SDR_ASSIGN_OR_RETURN(PickleRef r, NewValue(PickleKind::kGlobal));
    V(r).text = std::move(full);
    return Push(r);
  }

  Status PushLong(uint64_t nbytes) {
    if (nbytes > 8) {
      return Unsupported(what_ + ": integer of " + std::to_string(nbytes) +
                         " bytes does not fit in 64 bits (" + OpDesc() + ")");
    }
    SDR_ASSIGN_OR_RETURN(std::string_view s, Take(nbytes));
    uint64_t v = 0;
    for (size_t i = s.size(); i-- > 0;) v = (v << 8) | static_cast<unsigned char>(s[i]);
    if (nbytes > 0 && nbytes < 8 && (static_cast<unsigned char>(s.back()) & 0x80)) {
      v |= ~uint64_t{0} << (8 * nbytes);  // sign-extend
    }
    SDR_ASSIGN_OR_RETURN(PickleRef r, NewValueInt(PickleKind::kInt, static_cast<int64_t>(v)));
    return Push(r);
  }

  Status Reduce() {
    SDR_ASSIGN_OR_RETURN(PickleRef args, Pop());
    SDR_ASSIGN_OR_RETURN(PickleRef callable, Pop());
    if (V(callable).kind != PickleKind::kGlobal) {
      return Err("calls a " + std::string(PickleKindName(V(callable).kind)) + ", not a global");
    }
    if (V(args).kind != PickleKind::kTuple) {
      return Err("arguments are a " + std::string(PickleKindName(V(args).kind)) + ", not a tuple");
    }
    if (V(callable).text == "collections.OrderedDict") {
      if (!V(args).items.empty()) {
        return Unsupported(what_ + ": collections.OrderedDict called with arguments (" +
                           OpDesc() + ")");
      }
      SDR_ASSIGN_OR_RETURN(PickleRef d, NewValue(PickleKind::kDict));
      V(d).depth = 1;
      return Push(d);
    }
    SDR_ASSIGN_OR_RETURN(PickleRef r, NewContainer(PickleKind::kCall, {callable, args}));
    return Push(r);
  }

  Status Build() {
    SDR_ASSIGN_OR_RETURN(PickleRef state, Pop());
    SDR_ASSIGN_OR_RETURN(PickleRef target, Top());
    switch (V(target).kind) {
      case PickleKind::kDict:
        return Status::Ok();  // instance attributes of a dict subclass (e.g. `_metadata`)
      case PickleKind::kCall:
        if (V(target).state != kNoPickleRef) return Err("object state set twice");
        V(target).state = state;
        return Status::Ok();
      default:
        return Err("cannot set the state of a " + std::string(PickleKindName(V(target).kind)));
    }
  }

  Status UnsupportedOp() const {
    return Unsupported(what_ + ": pickle " + OpDesc() + " is not supported");
  }

  Status Step(bool* stop) {
    switch (op_) {
      case 0x80: {  // PROTO
        SDR_ASSIGN_OR_RETURN(uint64_t v, TakeLe(1));
        if (v > 5) {
          return Unsupported(what_ + ": pickle protocol " + std::to_string(v) +
                             " is newer than 5 (" + OpDesc() + ")");
        }
        return Status::Ok();
      }
      case 0x95: {  // FRAME: a length prefix we do not need
        SDR_ASSIGN_OR_RETURN(uint64_t n, TakeLe(8));
        if (n > in_.size() - pos_) return Err("frame of " + std::to_string(n) + " bytes runs past the end");
        return Status::Ok();
      }
      case '.': {  // STOP
        SDR_ASSIGN_OR_RETURN(graph_.root_, Pop());
        *stop = true;
        return Status::Ok();
      }
      case '(':  // MARK
        if (marks_.size() >= limits_.max_marks) {
          return Err("MARKs nested deeper than " + std::to_string(limits_.max_marks));
        }
        marks_.push_back(stack_.size());
        return Status::Ok();
      case '0':  // POP (an empty frame pops its mark, as CPython does)
        if (stack_.size() <= FrameBase() && !marks_.empty()) {
          marks_.pop_back();
          return Status::Ok();
        }
        return Pop().status();
      case '1':  // POP_MARK
        return PopMark().status();
      case '2': {  // DUP
        SDR_ASSIGN_OR_RETURN(PickleRef r, Top());
        return Push(r);
      }
      case 'N': return Push(kNoneRef);
      case 0x88: return Push(kTrueRef);
      case 0x89: return Push(kFalseRef);
      case 'J': {  // BININT: signed 32-bit
        SDR_ASSIGN_OR_RETURN(uint64_t v, TakeLe(4));
        SDR_ASSIGN_OR_RETURN(PickleRef r, NewValueInt(PickleKind::kInt,
                                                      static_cast<int32_t>(static_cast<uint32_t>(v))));
        return Push(r);
      }
      case 'K': case 'M': {  // BININT1 / BININT2: unsigned
        SDR_ASSIGN_OR_RETURN(uint64_t v, TakeLe(op_ == 'K' ? 1 : 2));
        SDR_ASSIGN_OR_RETURN(PickleRef r, NewValueInt(PickleKind::kInt, static_cast<int64_t>(v)));
        return Push(r);
      }
      case 0x8a: {  // LONG1
        SDR_ASSIGN_OR_RETURN(uint64_t n, TakeLe(1));
        return PushLong(n);
      }
      case 0x8b: {  // LONG4 (signed length)
        SDR_ASSIGN_OR_RETURN(uint64_t n, TakeLe(4));
        if (n & 0x80000000u) return Err("negative length");
        return PushLong(n);
      }
      case 'G': {  // BINFLOAT: big-endian double
        SDR_ASSIGN_OR_RETURN(std::string_view s, Take(8));
        uint64_t bits = 0;
        for (char c : s) bits = (bits << 8) | static_cast<unsigned char>(c);
        double d;
        std::memcpy(&d, &bits, sizeof(d));
        SDR_ASSIGN_OR_RETURN(PickleRef r, NewValue(PickleKind::kFloat));
        V(r).float_value = d;
        return Push(r);
      }
      case 'X': case 'T': case 'B': {  // BINUNICODE / BINSTRING / BINBYTES: 4-byte length
        SDR_ASSIGN_OR_RETURN(uint64_t n, TakeLe(4));
        if (op_ == 'T' && (n & 0x80000000u)) return Err("negative length");
        return PushString(op_ == 'B' ? PickleKind::kBytes : PickleKind::kString, n);
      }
      case 0x8c: case 'U': case 'C': {  // SHORT_BINUNICODE / SHORT_BINSTRING / SHORT_BINBYTES
        SDR_ASSIGN_OR_RETURN(uint64_t n, TakeLe(1));
        return PushString(op_ == 'C' ? PickleKind::kBytes : PickleKind::kString, n);
      }
      case 0x8d: case 0x8e: case 0x96: {  // BINUNICODE8 / BINBYTES8 / BYTEARRAY8
        SDR_ASSIGN_OR_RETURN(uint64_t n, TakeLe(8));
        return PushString(op_ == 0x8d ? PickleKind::kString : PickleKind::kBytes, n);
      }
      case ')': return Push(kEmptyTupleRef);
      case 't': {  // TUPLE
        SDR_ASSIGN_OR_RETURN(std::vector<PickleRef> items, PopMark());
        if (items.empty()) return Push(kEmptyTupleRef);
        SDR_ASSIGN_OR_RETURN(PickleRef r, NewContainer(PickleKind::kTuple, std::move(items)));
        return Push(r);
      }
      case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
        const size_t n = op_ - 0x84u;
        std::vector<PickleRef> items(n);
        for (size_t i = n; i-- > 0;) {
          SDR_ASSIGN_OR_RETURN(items[i], Pop());
        }
        SDR_ASSIGN_OR_RETURN(PickleRef r, NewContainer(PickleKind::kTuple, std::move(items)));
        return Push(r);
      }
      case ']': case '}': case 0x8f: {  // EMPTY_LIST / EMPTY_DICT / EMPTY_SET
        const PickleKind k = op_ == ']' ? PickleKind::kList
                             : op_ == '}' ? PickleKind::kDict : PickleKind::kSet;
        SDR_ASSIGN_OR_RETURN(PickleRef r, NewContainer(k, {}));
        return Push(r);
      }
      case 'l': case 'd': case 0x91: {  // LIST / DICT / FROZENSET from the marked items
        SDR_ASSIGN_OR_RETURN(std::vector<PickleRef> items, PopMark());
        const PickleKind k = op_ == 'l' ? PickleKind::kList
                             : op_ == 'd' ? PickleKind::kDict : PickleKind::kSet;
        if (k == PickleKind::kDict && items.size() % 2 != 0) return Err("odd number of items for a dict");
        SDR_ASSIGN_OR_RETURN(PickleRef r, NewContainer(k, std::move(items)));
        return Push(r);
      }
      case 'a': {  // APPEND
        SDR_ASSIGN_OR_RETURN(PickleRef item, Pop());
        SDR_ASSIGN_OR_RETURN(PickleRef list, Top());
        return Extend(list, PickleKind::kList, {item});
      }
      case 's': {  // SETITEM
        SDR_ASSIGN_OR_RETURN(PickleRef value, Pop());
        SDR_ASSIGN_OR_RETURN(PickleRef key, Pop());
        SDR_ASSIGN_OR_RETURN(PickleRef dict, Top());
        return Extend(dict, PickleKind::kDict, {key, value});
      }
      case 'e': case 'u': case 0x90: {  // APPENDS / SETITEMS / ADDITEMS
        SDR_ASSIGN_OR_RETURN(std::vector<PickleRef> items, PopMark());
        SDR_ASSIGN_OR_RETURN(PickleRef target, Top());
        const PickleKind k = op_ == 'e' ? PickleKind::kList
                             : op_ == 'u' ? PickleKind::kDict : PickleKind::kSet;
        return Extend(target, k, items);
      }
      case 'c': {  // GLOBAL "module\nname\n"
        SDR_ASSIGN_OR_RETURN(std::string_view module, TakeLine());
        SDR_ASSIGN_OR_RETURN(std::string_view name, TakeLine());
        return PushGlobal(module, name);
      }
      case 0x93: {  // STACK_GLOBAL
        SDR_ASSIGN_OR_RETURN(PickleRef name, Pop());
        SDR_ASSIGN_OR_RETURN(PickleRef module, Pop());
        if (V(name).kind != PickleKind::kString || V(module).kind != PickleKind::kString) {
          return Err("module and name are not strings");
        }
        return PushGlobal(V(module).text, V(name).text);
      }
      case 'R': case 0x81:  // REDUCE / NEWOBJ (cls, args): both inert calls here
        return Reduce();
      case 'b': return Build();
      case 'Q': {  // BINPERSID
        SDR_ASSIGN_OR_RETURN(PickleRef pid, Pop());
        SDR_ASSIGN_OR_RETURN(PickleRef r, NewContainer(PickleKind::kPersistentId, {pid}));
        return Push(r);
      }
      case 'h': case 'j': {  // BINGET / LONG_BINGET
        SDR_ASSIGN_OR_RETURN(uint64_t i, TakeLe(op_ == 'h' ? 1 : 4));
        return Get(i);
      }
      case 'q': case 'r': {  // BINPUT / LONG_BINPUT
        SDR_ASSIGN_OR_RETURN(uint64_t i, TakeLe(op_ == 'q' ? 1 : 4));
        return Memo(i);
      }
      case 0x94:  // MEMOIZE
        return Memo(memo_.size());
      default:
        break;
    }
    if (!OpName(op_).empty()) return UnsupportedOp();
    return CorruptData(what_ + ": unknown pickle opcode " + HexByte(op_) + " at offset " +
                       std::to_string(op_offset_));
  }

  std::string_view in_;
  size_t pos_ = 0;
  size_t op_offset_ = 0;
  uint8_t op_ = 0;
  const UnpickleLimits limits_;
  const std::string what_;
  const std::unordered_set<std::string> allowed_;
  PickleGraph graph_;
  std::vector<PickleRef> stack_;
  std::vector<size_t> marks_;  // stack sizes at each MARK
  std::unordered_map<uint64_t, PickleRef> memo_;
};

Result<PickleGraph> Unpickle(std::string_view bytes, const UnpickleOptions& options,
                             const std::string& what) {
  Unpickler u(bytes, options, what);
  return u.Run();
}

}  // namespace sdr
