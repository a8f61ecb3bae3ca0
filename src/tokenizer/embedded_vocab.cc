#include "tokenizer/embedded_vocab.h"

#include <zlib.h>

namespace sdr {
namespace embedded {
extern const unsigned char kClipMerges[];
extern const unsigned long kClipMerges_size;
extern const unsigned long kClipMerges_raw_size;
}  // namespace embedded

Result<std::string> EmbeddedClipMerges() {
  std::string text(embedded::kClipMerges_raw_size, '\0');
  uLongf n = static_cast<uLongf>(text.size());
  const int rc = uncompress(reinterpret_cast<Bytef*>(text.data()), &n, embedded::kClipMerges,
                            static_cast<uLong>(embedded::kClipMerges_size));
  if (rc != Z_OK || n != text.size()) {
    return CorruptData("the embedded CLIP vocabulary does not inflate (zlib " + std::to_string(rc) + ")");
  }
  return text;
}

Result<std::shared_ptr<const ClipTokenizer>> EmbeddedClipTokenizer() {
  static const Result<std::shared_ptr<const ClipTokenizer>> tokenizer =
      []() -> Result<std::shared_ptr<const ClipTokenizer>> {
    SDR_ASSIGN_OR_RETURN(std::string text, EmbeddedClipMerges());
    auto tok = ClipTokenizer::FromMerges(text);
    if (!tok.ok()) return tok.status().WithContext("the embedded CLIP vocabulary");
    return std::shared_ptr<const ClipTokenizer>(std::make_shared<ClipTokenizer>(std::move(tok).value()));
  }();
  return tokenizer;
}

}  // namespace sdr
