#include "json_text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace flx::flux::demo {
namespace {

TEST(JsonQuoteTest, EscapesWhatJsonRequires) {
  EXPECT_EQ(json_quote("plain"), "\"plain\"");
  EXPECT_EQ(json_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json_quote("line\nnext\ttab"), "\"line\\nnext\\ttab\"");
  EXPECT_EQ(json_quote(std::string("\x01", 1)), "\"\\u0001\"");
  EXPECT_EQ(json_quote("\xc4\x80</w>"), "\"\xc4\x80</w>\"") << "UTF-8 and / are kept";
}

TEST(JsonObjectTest, KeepsOrderAndFormatsNumbersShortest) {
  const std::string text = JsonObject()
                               .add("name", "vae")
                               .add("count", 3)
                               .add("scale", 0.3611)
                               .add("eps", 1e-05)
                               .add("whole", 1.0)
                               .add("flag", false)
                               .add_null("missing")
                               .add("dims", std::vector<int64_t>{8, 28, 28})
                               .add("types", std::vector<std::string>{"a", "b"})
                               .add("child", JsonObject().add("x", 1))
                               .add("empty", JsonObject())
                               .str();
  EXPECT_EQ(text,
            "{\n"
            "  \"name\": \"vae\",\n"
            "  \"count\": 3,\n"
            "  \"scale\": 0.3611,\n"
            "  \"eps\": 1e-05,\n"
            "  \"whole\": 1.0,\n"
            "  \"flag\": false,\n"
            "  \"missing\": null,\n"
            "  \"dims\": [8, 28, 28],\n"
            "  \"types\": [\"a\", \"b\"],\n"
            "  \"child\": {\n"
            "    \"x\": 1\n"
            "  },\n"
            "  \"empty\": {}\n"
            "}\n");
}

}  // namespace
}  // namespace flx::flux::demo
