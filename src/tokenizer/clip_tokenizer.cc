#include "tokenizer/clip_tokenizer.h"

#include <climits>

#include "core/mapped_file.h"
#include "tokenizer/text_clean.h"
#include "tokenizer/utf8.h"

namespace sdr {
namespace {

// GPT-2's reversible byte -> printable code point map.
void BytesToUnicode(char32_t (&map)[256]) {
  bool direct[256] = {};
  for (int b = '!'; b <= '~'; ++b) direct[b] = true;
  for (int b = 0xA1; b <= 0xAC; ++b) direct[b] = true;
  for (int b = 0xAE; b <= 0xFF; ++b) direct[b] = true;
  int n = 0;
  for (int b = 0; b < 256; ++b) map[b] = direct[b] ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
}

// Order of the 256 byte symbols in the vocabulary: direct bytes first (ascending), then the rest.
std::vector<int> ByteVocabOrder() {
  std::vector<int> order;
  auto add = [&](int lo, int hi) { for (int b = lo; b <= hi; ++b) order.push_back(b); };
  add('!', '~');
  add(0xA1, 0xAC);
  add(0xAE, 0xFF);
  for (int b = 0; b < 256; ++b) {
    const bool direct = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    if (!direct) order.push_back(b);
  }
  return order;
}

// Splits cleaned text into words with CLIP's pattern:
// <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+
std::vector<std::u32string> SplitWords(const std::u32string& t) {
  // Literal alternatives, tried in the pattern's order before the character classes.
  static const std::u32string_view kLiterals[] = {U"<|startoftext|>", U"<|endoftext|>", U"'s", U"'t", U"'re",
                                                  U"'ve", U"'m", U"'ll", U"'d"};
  std::vector<std::u32string> words;
  const std::u32string_view s(t);
  size_t i = 0;
  while (i < s.size()) {
    bool matched = false;
    for (auto lit : kLiterals) {
      if (s.substr(i, lit.size()) == lit) {
        words.emplace_back(lit);
        i += lit.size();
        matched = true;
        break;
      }
    }
    if (matched) continue;
    const char32_t c = s[i];
    size_t j = i + 1;
    if (IsUnicodeLetter(c)) {
      while (j < s.size() && IsUnicodeLetter(s[j])) ++j;
    } else if (IsUnicodeNumber(c)) {
      // a single digit
    } else if (IsUnicodeSpace(c)) {
      ++i;  // not part of any word
      continue;
    } else {
      while (j < s.size() && !IsUnicodeSpace(s[j]) && !IsUnicodeLetter(s[j]) && !IsUnicodeNumber(s[j])) ++j;
    }
    words.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return words;
}

}  // namespace

Result<ClipTokenizer> ClipTokenizer::FromMergesFile(const std::string& path) {
  auto text = ReadSmallFile(path);
  if (!text.ok()) return text.status().WithContext("reading CLIP merges");
  auto tok = FromMerges(*text);
  if (!tok.ok()) return tok.status().WithContext("CLIP merges file '" + path + "'");
  return tok;
}

Result<ClipTokenizer> ClipTokenizer::FromMerges(std::string_view merges_text) {
  ClipTokenizer tok;
  char32_t map[256];
  BytesToUnicode(map);
  for (int b = 0; b < 256; ++b) {
    tok.byte_symbol_[b].clear();
    AppendUtf8(map[b], &tok.byte_symbol_[b]);
  }
  int32_t id = 0;
  const std::vector<int> order = ByteVocabOrder();
  for (int b : order) tok.encoder_[tok.byte_symbol_[b]] = id++;
  for (int b : order) tok.encoder_[tok.byte_symbol_[b] + "</w>"] = id++;
  // Lines after the header; blank lines skipped.
  size_t pos = merges_text.find('\n');
  if (pos == std::string_view::npos) return CorruptData("no merges after the header line");
  ++pos;
  int32_t rank = 0;
  int line_no = 1;
  while (pos < merges_text.size()) {
    size_t end = merges_text.find('\n', pos);
    if (end == std::string_view::npos) end = merges_text.size();
    std::string_view line = merges_text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) continue;
    const size_t sp = line.find(' ');
    if (sp == std::string_view::npos || sp == 0 || line.find(' ', sp + 1) != std::string_view::npos) {
      return CorruptData("line " + std::to_string(line_no) + " is not a merge 'a b'");
    }
    std::string a(line.substr(0, sp)), b(line.substr(sp + 1));
    tok.merge_rank_.emplace(a + " " + b, rank++);
    tok.encoder_.emplace(a + b, id++);
    if (id > INT32_MAX - 3) return CorruptData("too many merges");
  }
  if (rank == 0) return CorruptData("no merges after the header line");
  tok.bos_ = id;
  tok.encoder_["<|startoftext|>"] = id++;
  tok.eos_ = id;
  tok.encoder_["<|endoftext|>"] = id++;
  tok.vocab_size_ = static_cast<size_t>(id);
  return tok;
}

void ClipTokenizer::BpeWord(const std::string& word_utf8, std::vector<int32_t>* out) const {
  // Symbols: one per code point of the byte-encoded word, "</w>" on the last.
  std::vector<std::string> syms;
  const std::u32string cps = DecodeUtf8(word_utf8);
  for (char32_t c : cps) {
    syms.emplace_back();
    AppendUtf8(c, &syms.back());
  }
  if (syms.empty()) return;
  syms.back() += "</w>";
  std::string key;
  while (syms.size() > 1) {
    int32_t best = INT32_MAX;
    for (size_t i = 0; i + 1 < syms.size(); ++i) {
      key = syms[i] + " " + syms[i + 1];
      auto it = merge_rank_.find(key);
      if (it != merge_rank_.end() && it->second < best) best = it->second;
    }
    if (best == INT32_MAX) break;
    std::vector<std::string> merged;
    merged.reserve(syms.size());
    for (size_t i = 0; i < syms.size();) {
      if (i + 1 < syms.size()) {
        key = syms[i] + " " + syms[i + 1];
        auto it = merge_rank_.find(key);
        if (it != merge_rank_.end() && it->second == best) {
          merged.push_back(syms[i] + syms[i + 1]);
          i += 2;
          continue;
        }
      }
      merged.push_back(syms[i++]);
    }
    syms = std::move(merged);
  }
  for (const std::string& s : syms) {
    auto it = encoder_.find(s);
    // Every symbol is a byte symbol or a merge result, so it is in the vocabulary.
    if (it != encoder_.end()) out->push_back(it->second);
  }
}

std::vector<int32_t> ClipTokenizer::Encode(std::string_view text) const {
  const std::u32string clean = CleanClipText(DecodeUtf8(text));
  std::vector<int32_t> ids;
  for (const std::u32string& w : SplitWords(clean)) {
    if (w == U"<|startoftext|>") { ids.push_back(bos_); continue; }
    if (w == U"<|endoftext|>") { ids.push_back(eos_); continue; }
    std::string bytes = EncodeUtf8(w);
    std::string encoded;
    for (unsigned char b : bytes) encoded += byte_symbol_[b];
    BpeWord(encoded, &ids);
  }
  return ids;
}

std::vector<int32_t> ClipTokenizer::EncodeWithSpecials(std::string_view text) const {
  std::vector<int32_t> ids = {bos_};
  for (int32_t id : Encode(text)) ids.push_back(id);
  ids.push_back(eos_);
  return ids;
}

}  // namespace sdr
