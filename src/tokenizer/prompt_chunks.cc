#include "tokenizer/prompt_chunks.h"

#include <string>

#include "tokenizer/prompt_parser.h"

namespace sdr {

Result<PromptChunks> TokenizePrompt(const ClipTokenizer& tok, std::string_view prompt, const ChunkOptions& opts) {
  constexpr int kBody = PromptChunks::kChunkLength - 2;  // 75
  PromptChunks out;
  std::vector<int32_t> cur_ids;
  std::vector<float> cur_w;
  auto close_chunk = [&]() -> Status {
    if (out.num_chunks() >= opts.max_chunks) {
      return InvalidArgument("prompt is longer than " + std::to_string(opts.max_chunks) + " chunks of 75 tokens");
    }
    out.ids.push_back(tok.bos());
    out.weights.push_back(1.0f);
    for (size_t i = 0; i < cur_ids.size(); ++i) {
      out.ids.push_back(cur_ids[i]);
      out.weights.push_back(cur_w[i]);
    }
    out.ids.push_back(tok.eos());
    out.weights.push_back(1.0f);
    while (out.ids.size() % PromptChunks::kChunkLength != 0) {
      out.ids.push_back(opts.pad_id);
      out.weights.push_back(1.0f);
    }
    cur_ids.clear();
    cur_w.clear();
    return Status::Ok();
  };
  for (const WeightedText& piece : ParsePromptAttention(prompt)) {
    if (piece.is_break) {
      SDR_RETURN_IF_ERROR(close_chunk());
      continue;
    }
    for (int32_t id : tok.Encode(piece.text)) {
      if (static_cast<int>(cur_ids.size()) == kBody) SDR_RETURN_IF_ERROR(close_chunk());
      cur_ids.push_back(id);
      cur_w.push_back(piece.weight);
    }
  }
  if (!cur_ids.empty() || out.ids.empty()) SDR_RETURN_IF_ERROR(close_chunk());
  return out;
}

}  // namespace sdr
