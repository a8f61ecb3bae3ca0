#include "tokenizer/clip_tokenizer.h"

#include <climits>
#include <cstdint>
#include <functional>
#include <queue>

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

// CLIP's bpe(): repeatedly take the adjacent pair with the lowest merge rank and merge every
// non-overlapping occurrence of it, left to right, in one pass. Done literally that is O(n^2) in
// the word length (a few seconds for a 16 KB word, minutes for 64 KB: a denial of service through
// one prompt). Here the same passes run in O(n log n): the symbols form a linked list and a heap
// holds the candidate pairs by (rank, position). A pass pops every candidate of the lowest rank
// (all occurrences of one pair: ranks are unique per pair) in position order, skips those a
// merge made stale, and only then queues the pairs its merges formed, which may rank lower: that
// keeps each pass exactly the reference's. A pass cannot create its own pair again (a merged
// symbol is longer than either half), so nothing of that rank is missed.
void ClipTokenizer::BpeWord(const std::string& word_utf8, std::vector<int32_t>* out) const {
  // Symbols: one per code point of the byte-encoded word, "</w>" on the last.
  std::vector<std::string> sym;
  for (char32_t c : DecodeUtf8(word_utf8)) {
    sym.emplace_back();
    AppendUtf8(c, &sym.back());
  }
  if (sym.empty()) return;
  sym.back() += "</w>";
  const size_t n = sym.size();
  constexpr size_t kNone = SIZE_MAX;
  std::vector<size_t> prev(n), next(n);
  std::vector<uint32_t> version(n, 0);  // bumped when a symbol absorbs its right neighbour
  std::vector<bool> alive(n, true);
  for (size_t i = 0; i < n; ++i) {
    prev[i] = i == 0 ? kNone : i - 1;
    next[i] = i + 1 == n ? kNone : i + 1;
  }
  struct Candidate {
    int32_t rank;
    size_t left, right;  // symbol indices; list order is index order
    uint32_t left_version, right_version;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  std::string key;
  auto queue_pair = [&](size_t left) {
    const size_t right = next[left];
    if (right == kNone) return;
    key.assign(sym[left]).append(" ").append(sym[right]);
    auto it = merge_rank_.find(key);
    if (it != merge_rank_.end()) heap.push({it->second, left, right, version[left], version[right]});
  };
  for (size_t i = 0; i + 1 < n; ++i) queue_pair(i);

  std::vector<size_t> merged;
  while (!heap.empty()) {
    const int32_t rank = heap.top().rank;
    merged.clear();
    while (!heap.empty() && heap.top().rank == rank) {
      const Candidate c = heap.top();
      heap.pop();
      if (!alive[c.left] || next[c.left] != c.right || version[c.left] != c.left_version ||
          version[c.right] != c.right_version) {
        continue;  // stale: one of the two symbols changed since the pair was queued
      }
      sym[c.left] += sym[c.right];
      sym[c.right].clear();
      alive[c.right] = false;
      next[c.left] = next[c.right];
      if (next[c.left] != kNone) prev[next[c.left]] = c.left;
      ++version[c.left];
      merged.push_back(c.left);
    }
    for (size_t m : merged) {
      if (prev[m] != kNone) queue_pair(prev[m]);
      queue_pair(m);
    }
  }
  for (size_t i = 0; i != kNone; i = next[i]) {
    auto it = encoder_.find(sym[i]);
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
