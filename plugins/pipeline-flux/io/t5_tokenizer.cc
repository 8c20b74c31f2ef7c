#include "io/t5_tokenizer.h"

#include <sentencepiece_processor.h>

#include <stdexcept>

#include "io/files.h"
#include "io/name_affixes.h"
#include "io/tensor.h"
#include "io/tokenizer_config.h"

namespace flx::flux {
namespace {

const std::string kWordStart = "\xE2\x96\x81";  // U+2581, SentencePiece's word-start mark

// A serialized ModelProto field that sets normalizer_spec.add_dummy_prefix = false: field 3
// (normalizer_spec, length-delimited, 2 bytes) holding field 3 (add_dummy_prefix, varint) = 0.
// Protobuf merges a repeated message field into the earlier one, so appending it to the model
// has the effect of transformers' model.normalizer_spec.MergeFrom(...) without protobuf.
const std::string kNoDummyPrefix("\x1A\x02\x18\x00", 4);

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

std::vector<AddedToken> default_added_tokens(int piece_count) {
  std::vector<AddedToken> tokens = {{"<pad>", 0, false, false, true},
                                    {"</s>", 1, false, false, true},
                                    {"<unk>", 2, false, false, true}};
  constexpr int kExtraIds = 100;
  for (int n = 0; n < kExtraIds; ++n) {
    tokens.push_back({"<extra_id_" + std::to_string(n) + ">", piece_count - 1 + kExtraIds - n, true,
                      true, true});
  }
  return tokens;
}

}  // namespace

T5Tokenizer T5Tokenizer::load(const std::string& dir) {
  const std::string model_path = dir + "/spiece.model";
  const std::string config_path = dir + "/tokenizer_config.json";
  const TokenizerConfig config = read_tokenizer_config(config_path);

  T5Tokenizer tokenizer;
  tokenizer.legacy_ = config.legacy.value_or(true);
  tokenizer.add_prefix_space_ = config.add_prefix_space.value_or(true);
  std::string serialized = read_text_file(model_path);
  if (!tokenizer.legacy_) serialized += kNoDummyPrefix;
  auto model = std::make_shared<sentencepiece::SentencePieceProcessor>();
  const auto status = model->LoadFromSerializedProto(serialized);
  if (!status.ok())
    throw LoadError(model_path + ": not a SentencePiece model: " + status.ToString());
  tokenizer.model_ = model;

  tokenizer.added_tokens_ =
      config.added_tokens ? *config.added_tokens
                          : AddedTokens(default_added_tokens(model->GetPieceSize()), config_path);
  auto id_of = [&](const char* key, const std::string& fallback) {
    auto it = config.special_tokens.find(key);
    const std::string name = it == config.special_tokens.end() ? fallback : it->second;
    if (const AddedToken* token = tokenizer.added_tokens_.find(name)) return token->id;
    const int id = model->PieceToId(name);
    if (id == model->unk_id() && name != model->IdToPiece(id)) {
      throw LoadError(config_path + ": " + key + " \"" + name + "\" is not a known token");
    }
    return static_cast<int32_t>(id);
  };
  tokenizer.eos_id_ = id_of("eos_token", "</s>");
  tokenizer.pad_id_ = id_of("pad_token", "<pad>");
  auto unk = config.special_tokens.find("unk_token");
  tokenizer.unk_token_ = unk == config.special_tokens.end() ? "<unk>" : unk->second;
  tokenizer.unk_token_pieces_ = tokenizer.encode_pieces(tokenizer.unk_token_).size();
  return tokenizer;
}

std::vector<std::string> T5Tokenizer::encode_pieces(const std::string& text) const {
  std::vector<std::string> pieces;
  const auto status = model_->Encode(text, &pieces);
  if (!status.ok()) throw std::runtime_error("SentencePiece encode failed: " + status.ToString());
  return pieces;
}

std::vector<std::string> T5Tokenizer::tokenize_piece(const std::string& piece) const {
  if (legacy_ || !(starts_with(piece, kWordStart) || starts_with(piece, " "))) {
    return encode_pieces(piece);
  }
  std::vector<std::string> pieces = encode_pieces(unk_token_ + piece);
  if (pieces.size() >= unk_token_pieces_) {
    pieces.erase(pieces.begin(), pieces.begin() + static_cast<std::ptrdiff_t>(unk_token_pieces_));
  }
  return pieces;
}

std::vector<std::string> T5Tokenizer::tokenize(const std::string& text) const {
  std::string prepared = text;
  if (!legacy_ && !text.empty()) {
    prepared = replace_all(text, kWordStart, " ");
    if (add_prefix_space_) prepared = kWordStart + prepared;
  }
  std::vector<std::string> tokens;
  for (const AddedTokens::Piece& piece : added_tokens_.split(prepared)) {
    if (piece.token != nullptr) {
      tokens.push_back(piece.token->content);
    } else {
      for (std::string& token : tokenize_piece(piece.text)) tokens.push_back(std::move(token));
    }
  }
  if (!legacy_ && tokens.size() > 1 && tokens[0] == kWordStart) {
    const AddedToken* second = added_tokens_.find(tokens[1]);
    if (second != nullptr && second->special) tokens.erase(tokens.begin());
  }
  return tokens;
}

std::vector<int32_t> T5Tokenizer::token_ids(const std::string& text) const {
  std::vector<int32_t> ids;
  for (const std::string& token : tokenize(text)) {
    const AddedToken* added = added_tokens_.find(token);
    ids.push_back(added != nullptr ? added->id : model_->PieceToId(token));
  }
  return ids;
}

std::vector<int32_t> T5Tokenizer::encode(const std::string& text, size_t max_length) const {
  if (max_length == 0) throw std::invalid_argument("T5 max_length must leave room for EOS");
  std::vector<int32_t> ids = token_ids(text);
  if (ids.size() > max_length - 1) ids.resize(max_length - 1);
  if (ids.empty() || ids.back() != eos_id_) ids.push_back(eos_id_);
  ids.resize(max_length, pad_id_);
  return ids;
}

}  // namespace flx::flux
