// Fuzz entry: prompt text through the A1111 attention parser, CLIP BPE and chunking (see
// fuzz_targets.h).
//
// The tokenizer is built once, from the first of: the merges file named by $SDR_FUZZ_MERGES
// (or the small list embedded here when it says "embedded"); the repository's
// ../shared/data/clip-vit-l-14-merges.txt (SDR_FUZZ_DEFAULT_MERGES, fixed at build time); the
// embedded list, so the fuzzer runs even where ../shared is absent (fewer merges, same code
// paths). Which one is used is printed once on stderr.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "core/check.h"
#include "fuzz/fuzz_targets.h"
#include "tokenizer/clip_tokenizer.h"
#include "tokenizer/prompt_chunks.h"
#include "tokenizer/prompt_parser.h"

namespace sdr::fuzz {
namespace {

constexpr std::string_view kEmbeddedMerges =
    "#version: 0.2\n"
    "i n\nt h\na n\nr e\na r\ne r\nth e</w>\nin g</w>\no u\no n\ns t\no r\ne n\no n</w>\n"
    "a l\na t\ne r</w>\ni t\ni n</w>\nt o</w>\nr o\ni s</w>\nl e\ni c\na t</w>\ne d</w>\n"
    "c a\nca t</w>\np h\nph o\npho to</w>\nt o\nl a\nla n\nlan d\nd s\np e</w>\n"
    "s c\nsc a\nsca pe</w>\nm a\nma st\nmast er\nq u\nqu a\nb e\nbe st</w>\n";

ClipTokenizer LoadTokenizer() {
  std::string path;
  const char* env = std::getenv("SDR_FUZZ_MERGES");
  if (env != nullptr && std::string_view(env) == "embedded") {
    // path stays empty
  } else if (env != nullptr && *env != '\0') {
    path = env;
  } else {
#ifdef SDR_FUZZ_DEFAULT_MERGES
    std::error_code ec;
    if (std::filesystem::exists(SDR_FUZZ_DEFAULT_MERGES, ec)) path = SDR_FUZZ_DEFAULT_MERGES;
#endif
  }
  if (!path.empty()) {
    auto tok = ClipTokenizer::FromMergesFile(path);
    if (!tok.ok()) {  // a named file that cannot be used is a setup error, not a finding
      std::fprintf(stderr, "fuzz tokenizer: %s\n", tok.status().ToString().c_str());
      std::exit(2);
    }
    std::fprintf(stderr, "fuzz tokenizer: merges from %s\n", path.c_str());
    return std::move(tok).value();
  }
  auto tok = ClipTokenizer::FromMerges(kEmbeddedMerges);
  SDR_CHECK(tok.ok());
  std::fprintf(stderr, "fuzz tokenizer: embedded merges (set SDR_FUZZ_MERGES for the real ones)\n");
  return std::move(tok).value();
}

}  // namespace

Status FuzzTokenizer(std::string_view input) {
  static const ClipTokenizer tok = LoadTokenizer();
  // SD 1.x pads with <|endoftext|>, SD 2.x with 0. (ChunkOptions' default pad id is the standard
  // vocabulary's <|endoftext|>, which is not this tokenizer's with the embedded merges.)
  ChunkOptions opts;
  opts.pad_id = tok.eos();
  if (!input.empty()) {
    const auto b = static_cast<uint8_t>(input[0]);
    input.remove_prefix(1);
    if ((b & 1) != 0) opts.pad_id = 0;
    if ((b >> 1) != 0) opts.max_chunks = b >> 1;
  }

  // The parser: never empty, BREAKs carry no text, neighbours of equal weight were merged, and
  // the text is only ever taken from the prompt.
  const std::vector<WeightedText> pieces = ParsePromptAttention(input);
  SDR_CHECK(!pieces.empty());
  size_t text_bytes = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const WeightedText& p = pieces[i];
    SDR_CHECK(!p.is_break || p.text.empty());
    if (i > 0 && !p.is_break && !pieces[i - 1].is_break) SDR_CHECK(!(p.weight == pieces[i - 1].weight));
    text_bytes += p.text.size();
  }
  SDR_CHECK(text_bytes <= input.size());

  // BPE: every id is in the vocabulary.
  for (int32_t id : tok.Encode(input)) {
    SDR_CHECK(id >= 0 && static_cast<size_t>(id) < tok.vocab_size());
  }

  // Chunks: whole 77-token chunks, each BOS ... EOS pad*, weight 1 on the specials.
  auto chunks = TokenizePrompt(tok, input, opts);
  if (!chunks.ok()) {
    SDR_CHECK(chunks.status().code() == StatusCode::kInvalidArgument);
    return chunks.status();
  }
  const PromptChunks& c = *chunks;
  SDR_CHECK(c.ids.size() == c.weights.size());
  SDR_CHECK(!c.ids.empty() && c.ids.size() % PromptChunks::kChunkLength == 0);
  SDR_CHECK(c.num_chunks() <= opts.max_chunks);
  for (int k = 0; k < c.num_chunks(); ++k) {
    const size_t at = static_cast<size_t>(k) * PromptChunks::kChunkLength;
    SDR_CHECK(c.ids[at] == tok.bos() && c.weights[at] == 1.0f);
  }
  for (int32_t id : c.ids) SDR_CHECK(id >= 0 && static_cast<size_t>(id) < tok.vocab_size());
  return Status::Ok();
}

}  // namespace sdr::fuzz
