// Fuzz entry: a pickle through the restricted unpickler (see fuzz_targets.h).
#include "core/check.h"
#include "formats/pickle.h"
#include "fuzz/fuzz_targets.h"

namespace sdr::fuzz {
namespace {

UnpickleOptions CheckpointOptions() {
  UnpickleOptions o;
  // What ReadCkpt allows, so that the fuzzer reaches the call/persistent-id paths.
  o.allowed_globals = {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                       "torch._utils._rebuild_parameter", "torch.FloatStorage", "torch.HalfStorage",
                       "torch.BFloat16Storage", "torch.LongStorage", "torch.ByteStorage",
                       "numpy.core.multiarray.scalar", "builtins.set"};
  return o;
}

}  // namespace

Status FuzzPickle(std::string_view input) {
  static const UnpickleOptions options = CheckpointOptions();
  SDR_ASSIGN_OR_RETURN(PickleGraph g, Unpickle(input, options, "fuzz.pkl"));
  // Every reference in the graph is valid (at() aborts otherwise); the graph cannot hold more
  // values than the input has bytes, plus the four shared singletons.
  SDR_CHECK(g.size() <= input.size() + 4);
  for (PickleRef r = 0; r < g.size(); ++r) {
    const PickleValue& v = g.at(r);
    for (PickleRef item : v.items) (void)g.at(item);
    if (v.state != kNoPickleRef) (void)g.at(v.state);
    SDR_CHECK(!PickleKindName(v.kind).empty());
  }
  (void)g.at(g.root());
  (void)g.DictGet(g.root(), "state_dict");
  return Status::Ok();
}

}  // namespace sdr::fuzz
