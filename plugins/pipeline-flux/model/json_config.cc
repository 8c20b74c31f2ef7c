#include "model/json_config.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <utility>

#include "io/tensor.h"

namespace flx::flux {
namespace {

bool is_integral_number(const Poco::Dynamic::Var& value) {
  if (value.isInteger()) return true;
  if (!value.isNumeric()) return false;
  const double number = value.convert<double>();
  return std::isfinite(number) && std::floor(number) == number;
}

}  // namespace

JsonConfig::JsonConfig(Poco::JSON::Object::Ptr object, std::string path)
    : object_(std::move(object)), path_(std::move(path)) {}

JsonConfig JsonConfig::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw LoadError(path + ": cannot open config file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw LoadError(path + ": cannot read config file");
  return parse(text.str(), path);
}

JsonConfig JsonConfig::parse(const std::string& text, const std::string& path) {
  Poco::Dynamic::Var root;
  try {
    Poco::JSON::Parser parser;
    root = parser.parse(text);
  } catch (const Poco::Exception& error) {
    throw LoadError(path + ": not valid JSON: " + error.displayText());
  }
  if (root.type() != typeid(Poco::JSON::Object::Ptr)) {
    throw LoadError(path + ": expected a JSON object at the top level");
  }
  return JsonConfig(root.extract<Poco::JSON::Object::Ptr>(), path);
}

void JsonConfig::fail(const std::string& key, const std::string& problem) const {
  throw LoadError(path_ + ": key \"" + key + "\" " + problem);
}

bool JsonConfig::has(const std::string& key) const {
  return object_->has(key) && !object_->isNull(key);
}

int64_t JsonConfig::get_int(const std::string& key) const {
  if (!has(key)) fail(key, "is missing");
  const Poco::Dynamic::Var value = object_->get(key);
  if (value.isBoolean() || !is_integral_number(value)) {
    fail(key, "must be an integer, got " + value.toString());
  }
  return value.isInteger() ? value.convert<int64_t>()
                           : static_cast<int64_t>(value.convert<double>());
}

double JsonConfig::get_double(const std::string& key) const {
  if (!has(key)) fail(key, "is missing");
  const Poco::Dynamic::Var value = object_->get(key);
  if (value.isBoolean() || !value.isNumeric()) {
    fail(key, "must be a number, got " + value.toString());
  }
  return value.convert<double>();
}

bool JsonConfig::get_bool(const std::string& key) const {
  if (!has(key)) fail(key, "is missing");
  const Poco::Dynamic::Var value = object_->get(key);
  if (!value.isBoolean()) fail(key, "must be true or false, got " + value.toString());
  return value.convert<bool>();
}

std::string JsonConfig::get_string(const std::string& key) const {
  if (!has(key)) fail(key, "is missing");
  const Poco::Dynamic::Var value = object_->get(key);
  if (!value.isString()) fail(key, "must be a string, got " + value.toString());
  return value.convert<std::string>();
}

std::vector<int64_t> JsonConfig::get_int_list(const std::string& key) const {
  if (!has(key)) fail(key, "is missing");
  Poco::JSON::Array::Ptr array = object_->getArray(key);
  if (array.isNull()) fail(key, "must be a list of integers");
  std::vector<int64_t> values;
  for (size_t i = 0; i < array->size(); ++i) {
    const Poco::Dynamic::Var item = array->get(static_cast<unsigned>(i));
    if (item.isBoolean() || !is_integral_number(item)) {
      fail(key, "must be a list of integers, item " + std::to_string(i) + " is " + item.toString());
    }
    values.push_back(item.isInteger() ? item.convert<int64_t>()
                                      : static_cast<int64_t>(item.convert<double>()));
  }
  return values;
}

std::vector<std::string> JsonConfig::get_string_list(const std::string& key) const {
  if (!has(key)) fail(key, "is missing");
  Poco::JSON::Array::Ptr array = object_->getArray(key);
  if (array.isNull()) fail(key, "must be a list of strings");
  std::vector<std::string> values;
  for (size_t i = 0; i < array->size(); ++i) {
    const Poco::Dynamic::Var item = array->get(static_cast<unsigned>(i));
    if (!item.isString()) {
      fail(key, "must be a list of strings, item " + std::to_string(i) + " is " + item.toString());
    }
    values.push_back(item.convert<std::string>());
  }
  return values;
}

int64_t JsonConfig::get_int(const std::string& key, int64_t fallback) const {
  return has(key) ? get_int(key) : fallback;
}

double JsonConfig::get_double(const std::string& key, double fallback) const {
  return has(key) ? get_double(key) : fallback;
}

bool JsonConfig::get_bool(const std::string& key, bool fallback) const {
  return has(key) ? get_bool(key) : fallback;
}

std::string JsonConfig::get_string(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}

}  // namespace flx::flux
