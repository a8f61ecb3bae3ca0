#include "testing/tiny_model.h"

#include <gtest/gtest.h>

#include "backends/registry.h"
#include "formats/safetensors.h"
#include "models/random_weights.h"
#include "testing/temp_dir.h"

namespace sdr::testing {

Backend& CpuBackend() {
  static std::shared_ptr<Backend> backend = [] {
    auto b = OpenBackend("cpu");
    if (!b.ok()) std::abort();
    return std::move(b).value();
  }();
  return *backend;
}

std::string ClipMergesPath() { return std::string(SDR_SHARED_DIR) + "/data/clip-vit-l-14-merges.txt"; }

std::string TinyModelPath() {
  // Removed at exit (every test process writes its own: ctest runs each test in a process, and
  // a leaked 66 MB copy per test filled /tmp).
  static TempDir dir;
  static const std::string path = [] {
    const std::string p = dir.File("tiny-sd1.safetensors");
    auto w = MakeRandomSd1Weights({});
    if (!w.ok() || !WriteSafetensors(p, *w).ok()) std::abort();
    return p;
  }();
  return path;
}

std::shared_ptr<const SdModel> TinySdModel() {
  static std::shared_ptr<const SdModel> model = [] {
    auto m = SdModel::Load({TinyModelPath(), "", ClipMergesPath()});
    if (!m.ok()) {
      ADD_FAILURE() << m.status().ToString();
      return std::shared_ptr<const SdModel>();
    }
    return std::shared_ptr<const SdModel>(std::move(m).value());
  }();
  return model;
}

}  // namespace sdr::testing
