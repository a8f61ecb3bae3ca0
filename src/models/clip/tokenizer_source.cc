#include "models/clip/tokenizer_source.h"

#include <nlohmann/json.hpp>

#include <filesystem>

#include "core/mapped_file.h"
#include "tokenizer/embedded_vocab.h"

namespace sdr {
namespace {

namespace fs = std::filesystem;

// When vocab.json sits beside merges.txt, it must agree with the vocabulary the merges imply.
Status CheckVocab(const fs::path& vocab_path, const ClipTokenizer& tok) {
  std::error_code ec;
  if (!fs::exists(vocab_path, ec)) return Status::Ok();
  SDR_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(vocab_path.string()));
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return CorruptData("'" + vocab_path.string() + "' is not a JSON object");
  if (j.size() != tok.vocab_size()) {
    return CorruptData("'" + vocab_path.string() + "' has " + std::to_string(j.size()) + " entries but the merges give " +
                       std::to_string(tok.vocab_size()));
  }
  auto eos = j.find("<|endoftext|>");
  if (eos == j.end() || !eos->is_number_integer() || eos->get<int64_t>() != tok.eos()) {
    return CorruptData("'" + vocab_path.string() + "' does not map <|endoftext|> to " + std::to_string(tok.eos()));
  }
  return Status::Ok();
}

Result<std::shared_ptr<const ClipTokenizer>> FromPath(const std::string& path, const std::string& what) {
  fs::path p(path);
  std::error_code ec;
  if (fs::is_directory(p, ec)) p /= "merges.txt";
  if (!fs::exists(p, ec)) return NotFound(what + " '" + p.string() + "' does not exist");
  auto tok = ClipTokenizer::FromMergesFile(p.string());
  if (!tok.ok()) return tok.status().WithContext(what);
  SDR_RETURN_IF_ERROR(CheckVocab(p.parent_path() / "vocab.json", *tok).WithContext(what));
  return std::shared_ptr<const ClipTokenizer>(std::make_shared<ClipTokenizer>(std::move(tok).value()));
}

}  // namespace

std::string TokenizerSource::Describe() const {
  switch (kind) {
    case Kind::kExplicit: return "tokenizer '" + path + "'";
    case Kind::kModelFolder: return "the model's tokenizer folder '" + path + "'";
    case Kind::kEmbedded: return "the embedded CLIP ViT-L/14 vocabulary";
  }
  return "?";
}

TokenizerSource ResolveTokenizerSource(const std::string& model_path, const std::string& explicit_path) {
  if (!explicit_path.empty()) return {TokenizerSource::Kind::kExplicit, explicit_path};
  std::error_code ec;
  const fs::path own = fs::path(model_path) / "tokenizer";
  if (fs::is_directory(own, ec)) return {TokenizerSource::Kind::kModelFolder, own.string()};
  return {TokenizerSource::Kind::kEmbedded, ""};
}

Result<std::shared_ptr<const ClipTokenizer>> LoadClipTokenizer(const TokenizerSource& source) {
  switch (source.kind) {
    case TokenizerSource::Kind::kExplicit: return FromPath(source.path, "tokenizer");
    case TokenizerSource::Kind::kModelFolder: return FromPath(source.path, "model tokenizer");
    case TokenizerSource::Kind::kEmbedded: return EmbeddedClipTokenizer();
  }
  return InternalError("unknown tokenizer source");
}

}  // namespace sdr
