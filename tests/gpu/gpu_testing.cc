#include "gpu/gpu_testing.h"

#include <cmath>
#include <map>
#include <mutex>

#include "testing/tiny_model.h"

namespace sdr::testing {

std::shared_ptr<const SdModel> TinyModelOn(const std::string& device, const std::string& precision) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const SdModel>> models;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = models[device + "/" + precision];
  if (slot == nullptr) {
    SdModelOptions o;
    o.model_path = TinyModelPath();
    o.tokenizer_path = ClipMergesPath();
    o.device = device;
    o.cuda_precision = precision;
    auto m = SdModel::Load(o);
    if (!m.ok()) {
      ADD_FAILURE() << device << " " << precision << ": " << m.status().ToString();
      return nullptr;
    }
    slot = std::move(m).value();
  }
  return slot;
}

double RgbPsnr(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  if (a.size() != b.size() || a.empty()) return 0;
  double se = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    se += d * d;
  }
  if (se == 0) return 99.0;
  return 10.0 * std::log10(255.0 * 255.0 / (se / static_cast<double>(a.size())));
}

}  // namespace sdr::testing
