#include "tokenizer/lora_tags.h"

#include <cmath>
#include <cstdlib>

namespace sdr {

Result<LoraPrompt> ExtractLoraTags(std::string_view prompt) {
  static constexpr std::string_view kOpen = "<lora:";
  LoraPrompt out;
  size_t pos = 0;
  while (pos < prompt.size()) {
    const size_t at = prompt.find(kOpen, pos);
    if (at == std::string_view::npos) break;
    const size_t end = prompt.find('>', at);
    if (end == std::string_view::npos) break;  // no closing '>': plain text, as A1111 leaves it
    out.prompt.append(prompt.substr(pos, at - pos));
    const std::string_view body = prompt.substr(at + kOpen.size(), end - at - kOpen.size());
    const std::string tag(prompt.substr(at, end - at + 1));
    LoraTag t;
    const size_t colon = body.find(':');
    t.name = std::string(body.substr(0, colon));
    if (t.name.empty()) return InvalidArgument("LoRA tag '" + tag + "' has no name");
    if (colon != std::string_view::npos) {
      const std::string w(body.substr(colon + 1));
      if (w.find(':') != std::string::npos) {
        return InvalidArgument("LoRA tag '" + tag + "': one weight only (<lora:NAME:WEIGHT>)");
      }
      char* stop = nullptr;
      const double v = std::strtod(w.c_str(), &stop);
      if (w.empty() || stop != w.c_str() + w.size() || !std::isfinite(v)) {
        return InvalidArgument("LoRA tag '" + tag + "': weight '" + w + "' is not a number");
      }
      t.weight = static_cast<float>(v);
    }
    out.loras.push_back(std::move(t));
    pos = end + 1;
  }
  out.prompt.append(prompt.substr(std::min(pos, prompt.size())));
  return out;
}

}  // namespace sdr
