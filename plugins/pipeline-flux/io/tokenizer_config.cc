#include "io/tokenizer_config.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "io/files.h"
#include "io/key_path.h"
#include "io/tensor.h"

namespace flx::flux {
namespace {

using Poco::JSON::Object;

bool flag(const Object& entry, const std::string& key, const std::string& where) {
  if (!entry.has(key)) return false;
  const Poco::Dynamic::Var value = entry.get(key);
  if (!value.isBoolean()) throw LoadError(where + ": \"" + key + "\" is not true or false");
  return value.extract<bool>();
}

AddedTokens read_added_tokens(const Object& decoder, const std::string& path) {
  std::vector<AddedToken> tokens;
  for (const auto& [id_text, value] : decoder) {
    const std::string where = path + ": added_tokens_decoder[\"" + id_text + "\"]";
    std::optional<int> id = parse_block_index(id_text);
    if (!id) throw LoadError(where + ": key is not a token id");
    if (value.type() != typeid(Object::Ptr)) throw LoadError(where + ": not an object");
    const Object::Ptr entry = value.extract<Object::Ptr>();
    if (!entry->has("content") || !entry->get("content").isString()) {
      throw LoadError(where + ": \"content\" missing or not a string");
    }
    if (flag(*entry, "single_word", where)) {
      throw LoadError(where + ": \"single_word\": true is not supported");
    }
    AddedToken token;
    token.content = entry->getValue<std::string>("content");
    token.id = *id;
    token.lstrip = flag(*entry, "lstrip", where);
    token.rstrip = flag(*entry, "rstrip", where);
    token.special = flag(*entry, "special", where);
    tokens.push_back(std::move(token));
  }
  return AddedTokens(std::move(tokens), path);
}

std::optional<bool> optional_flag(const Object& root, const std::string& key,
                                  const std::string& path) {
  if (!root.has(key) || root.isNull(key)) return std::nullopt;
  return flag(root, key, path);
}

}  // namespace

TokenizerConfig read_tokenizer_config(const std::string& path) {
  TokenizerConfig config;
  if (!is_regular_file(path)) return config;
  try {
    Poco::JSON::Parser parser;
    const Poco::Dynamic::Var parsed = parser.parse(read_text_file(path));
    if (parsed.type() != typeid(Object::Ptr)) throw LoadError(path + ": not a JSON object");
    const Object::Ptr root = parsed.extract<Object::Ptr>();
    if (root->has("added_tokens_decoder")) {
      const Object::Ptr decoder = root->getObject("added_tokens_decoder");
      if (decoder.isNull()) throw LoadError(path + ": \"added_tokens_decoder\" is not an object");
      config.added_tokens = read_added_tokens(*decoder, path);
    }
    for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
      if (!root->has(key) || root->isNull(key)) continue;
      const Poco::Dynamic::Var value = root->get(key);
      if (value.isString()) {
        config.special_tokens[key] = value.toString();
      } else if (value.type() == typeid(Object::Ptr) &&
                 value.extract<Object::Ptr>()->has("content")) {
        config.special_tokens[key] = value.extract<Object::Ptr>()->getValue<std::string>("content");
      } else {
        throw LoadError(path + ": \"" + key + "\" is neither a string nor {\"content\": ...}");
      }
    }
    config.legacy = optional_flag(*root, "legacy", path);
    config.add_prefix_space = optional_flag(*root, "add_prefix_space", path);
  } catch (const Poco::Exception& error) {
    throw LoadError(path + ": " + error.displayText());
  }
  return config;
}

}  // namespace flx::flux
