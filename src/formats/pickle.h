// A restricted unpickler: runs the pickle virtual machine (protocols 2..5, the opcodes
// torch.save emits plus the other plain-data ones) over untrusted bytes and produces an inert
// value graph. It never imports or calls anything:
//   - GLOBAL / STACK_GLOBAL yield a kGlobal value "module.name", and only names in
//     UnpickleOptions::allowed_globals are accepted; any other global is refused with
//     kSecurity: "pickle global 'posix.system' is not allowed".
//   - REDUCE / NEWOBJ yield a kCall value {callable, args} for the caller to interpret, except
//     `collections.OrderedDict()` (no arguments), which yields an empty kDict.
//   - BINPERSID yields a kPersistentId value {pid}.
//   - BUILD on a dict is ignored (attributes such as a state_dict's `_metadata`); on a call it
//     records the state; on anything else it is refused.
// Malformed input (truncated, unknown opcode, stack underflow, wrong operand types) is
// CorruptData naming the opcode and its byte offset. The memo, the stack, MARK nesting, the
// number of values and the nesting depth of tuples are bounded (UnpickleLimits).
//
// The graph may share values (memo references) and, since lists and dicts can be mutated after
// they were memoized, even contain cycles: walkers must bound their depth and their total work.
//
// Thread-safety: a PickleGraph is immutable once returned.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sdr {

using PickleRef = uint32_t;  // index into PickleGraph
inline constexpr PickleRef kNoPickleRef = UINT32_MAX;

enum class PickleKind : uint8_t {
  kNone, kBool, kInt, kFloat, kString, kBytes,
  kTuple, kList, kDict, kSet,
  kGlobal,         // text = "module.name"
  kCall,           // items = {callable, args}; state = BUILD state or kNoPickleRef
  kPersistentId,   // items = {pid}
};
std::string_view PickleKindName(PickleKind kind);  // "none", "int", "tuple", ...

struct PickleValue {
  PickleKind kind = PickleKind::kNone;
  uint32_t depth = 0;      // nesting depth when built (1 + deepest item); exact for tuples only
  int64_t int_value = 0;   // kBool (0/1), kInt
  double float_value = 0;  // kFloat
  std::string text;        // kString (UTF-8), kBytes, kGlobal
  std::vector<PickleRef> items;  // kTuple/kList/kSet: elements; kDict: key0, value0, key1, ...
  PickleRef state = kNoPickleRef;
};

class PickleGraph {
 public:
  const PickleValue& at(PickleRef r) const;  // aborts on a bad ref (a bug)
  PickleRef root() const { return root_; }
  size_t size() const { return values_.size(); }

  // Value of the string key `key` in the dict `dict` (last one wins, as in Python);
  // kNoPickleRef when absent or `dict` is not a dict.
  PickleRef DictGet(PickleRef dict, std::string_view key) const;

 private:
  friend class Unpickler;
  std::vector<PickleValue> values_;
  PickleRef root_ = kNoPickleRef;
};

struct UnpickleLimits {
  size_t max_values = size_t{1} << 23;   // values created (~100 bytes each); at least 4
  size_t max_stack = size_t{1} << 22;    // items on the VM stack
  size_t max_marks = 1000;               // MARK nesting
  size_t max_memo = size_t{1} << 22;     // memo entries
  uint32_t max_depth = 1000;             // tuple nesting
};

struct UnpickleOptions {
  // "module.name" of the only globals the pickle may reference (e.g. "collections.OrderedDict").
  std::vector<std::string> allowed_globals;
  UnpickleLimits limits;
};

// Runs the pickle in `bytes` up to its STOP opcode. `what` names the source in errors
// (e.g. "'model.ckpt' archive/data.pkl").
Result<PickleGraph> Unpickle(std::string_view bytes, const UnpickleOptions& options,
                             const std::string& what = "pickle");

}  // namespace sdr
