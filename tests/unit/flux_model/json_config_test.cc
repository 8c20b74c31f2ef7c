#include "model/json_config.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "io/tensor.h"

namespace flx::flux {
namespace {

std::string load_error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const LoadError& error) {
    return error.what();
  }
  return "<no LoadError>";
}

const char kConfig[] = R"({
  "hidden_size": 32, "eps": 1e-5, "integral_double": 4.0, "flag": true, "name": "silu",
  "dims": [8, 28, 28], "types": ["A", "B"], "nothing": null, "fraction": 0.5
})";

TEST(JsonConfig, ReadsTypedValues) {
  const JsonConfig config = JsonConfig::parse(kConfig, "cfg.json");
  EXPECT_EQ(config.get_int("hidden_size"), 32);
  EXPECT_EQ(config.get_int("integral_double"), 4);
  EXPECT_DOUBLE_EQ(config.get_double("eps"), 1e-5);
  EXPECT_DOUBLE_EQ(config.get_double("hidden_size"), 32.0);
  EXPECT_TRUE(config.get_bool("flag"));
  EXPECT_EQ(config.get_string("name"), "silu");
  EXPECT_EQ(config.get_int_list("dims"), (std::vector<int64_t>{8, 28, 28}));
  EXPECT_EQ(config.get_string_list("types"), (std::vector<std::string>{"A", "B"}));
}

TEST(JsonConfig, FallbacksApplyToAbsentAndNullKeysOnly) {
  const JsonConfig config = JsonConfig::parse(kConfig, "cfg.json");
  EXPECT_FALSE(config.has("nothing"));
  EXPECT_FALSE(config.has("absent"));
  EXPECT_EQ(config.get_int("nothing", 7), 7);
  EXPECT_EQ(config.get_int("absent", 9), 9);
  EXPECT_EQ(config.get_int("hidden_size", 9), 32);
  EXPECT_EQ(config.get_string("absent", "x"), "x");
  EXPECT_EQ(load_error_of([&] { config.get_int("name", 1); }),
            "cfg.json: key \"name\" must be an integer, got silu");
}

TEST(JsonConfig, ErrorsNameTheFileAndKey) {
  const JsonConfig config = JsonConfig::parse(kConfig, "cfg.json");
  const struct {
    std::function<void()> action;
    std::string message;
  } cases[] = {
      {[&] { config.get_int("absent"); }, "cfg.json: key \"absent\" is missing"},
      {[&] { config.get_int("nothing"); }, "cfg.json: key \"nothing\" is missing"},
      {[&] { config.get_int("fraction"); },
       "cfg.json: key \"fraction\" must be an integer, got 0.5"},
      {[&] { config.get_int("flag"); }, "cfg.json: key \"flag\" must be an integer, got true"},
      {[&] { config.get_double("name"); }, "cfg.json: key \"name\" must be a number, got silu"},
      {[&] { config.get_bool("hidden_size"); },
       "cfg.json: key \"hidden_size\" must be true or false, got 32"},
      {[&] { config.get_string("flag"); }, "cfg.json: key \"flag\" must be a string, got true"},
      {[&] { config.get_int_list("types"); },
       "cfg.json: key \"types\" must be a list of integers, item 0 is A"},
      {[&] { config.get_string_list("dims"); },
       "cfg.json: key \"dims\" must be a list of strings, item 0 is 8"},
  };
  for (const auto& c : cases) EXPECT_EQ(load_error_of(c.action), c.message);
}

TEST(JsonConfig, RejectsFilesThatAreNotJsonObjects) {
  EXPECT_EQ(load_error_of([] { JsonConfig::parse("[1, 2]", "list.json"); }),
            "list.json: expected a JSON object at the top level");
  EXPECT_NE(load_error_of([] {
              JsonConfig::parse("{\"a\": ", "broken.json");
            }).find("broken.json: not valid JSON"),
            std::string::npos);
  EXPECT_EQ(load_error_of([] { JsonConfig::load("/nonexistent/config.json"); }),
            "/nonexistent/config.json: cannot open config file");
}

}  // namespace
}  // namespace flx::flux
