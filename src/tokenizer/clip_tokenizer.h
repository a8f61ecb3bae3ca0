// ClipTokenizer: OpenAI CLIP's byte-level BPE, built from a merges file.
//
// Vocabulary (49,408 for the standard merges): the 256 byte symbols in GPT-2 bytes-to-unicode
// order, the same 256 with "</w>", one entry per merge, then <|startoftext|> and <|endoftext|>.
// Encoding: clean (HTML unescape, whitespace collapse, lowercase), split into words with CLIP's
// pattern (specials, contractions, letter runs, single digits, other-symbol runs), BPE each word
// with "</w>" on its last symbol.
//
// Thread-safety: immutable after construction; Encode may be called concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"

namespace sdr {

class ClipTokenizer {
 public:
  static constexpr int32_t kBos = 49406;  // <|startoftext|> in the standard vocabulary
  static constexpr int32_t kEos = 49407;  // <|endoftext|>

  // Merges text: a header line, then one "a b" merge per line.
  static Result<ClipTokenizer> FromMerges(std::string_view merges_text);
  static Result<ClipTokenizer> FromMergesFile(const std::string& path);

  // Token ids of `text` without BOS/EOS. Invalid UTF-8 is replaced by U+FFFD (never an error).
  std::vector<int32_t> Encode(std::string_view text) const;
  // BOS + Encode(text) + EOS.
  std::vector<int32_t> EncodeWithSpecials(std::string_view text) const;

  int32_t bos() const { return bos_; }
  int32_t eos() const { return eos_; }
  size_t vocab_size() const { return vocab_size_; }

 private:
  void BpeWord(const std::string& word_utf8, std::vector<int32_t>* out) const;

  std::unordered_map<std::string, int32_t> encoder_;     // symbol (UTF-8) -> id
  std::unordered_map<std::string, int32_t> merge_rank_;  // "a b" -> rank
  std::string byte_symbol_[256];                         // byte -> its unicode symbol (UTF-8)
  int32_t bos_ = kBos, eos_ = kEos;
  size_t vocab_size_ = 0;
};

}  // namespace sdr
