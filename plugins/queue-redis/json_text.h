// The little JSON the redis queue writes (records, event lists, claims): strings escaped as
// RFC 8259 asks, and objects of string members. Reading JSON is the host's side.
#ifndef FLX_PLUGINS_QUEUE_REDIS_JSON_TEXT_H_
#define FLX_PLUGINS_QUEUE_REDIS_JSON_TEXT_H_

#include <map>
#include <string>

namespace flx::redis {

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(const std::string& text);
// {"key": "value", ...} in the map's order.
std::string JsonObjectOfStrings(const std::map<std::string, std::string>& members);

}  // namespace flx::redis

#endif  // FLX_PLUGINS_QUEUE_REDIS_JSON_TEXT_H_
