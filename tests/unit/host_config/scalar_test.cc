#include "config/scalar.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace flx {
namespace {

TEST(ParseIntegerTest, Accepts) {
  struct Case {
    const char* text;
    int64_t value;
  } cases[] = {
      {"0", 0},
      {"42", 42},
      {"+7", 7},
      {"-12", -12},
      {"007", 7},
      {"0x1F", 31},
      {"-0x10", -16},
      {"0o17", 15},
      {"9223372036854775807", std::numeric_limits<int64_t>::max()},
      {"-9223372036854775808", std::numeric_limits<int64_t>::min()},
  };
  for (const Case& c : cases) {
    StatusOr<int64_t> v = ParseInteger(c.text);
    ASSERT_TRUE(v.ok()) << c.text << ": " << v.status().ToString();
    EXPECT_EQ(*v, c.value) << c.text;
  }
}

TEST(ParseIntegerTest, Rejects) {
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {"", "expected an integer, got ''"},
      {"1.5", "expected an integer, got '1.5'"},
      {"abc", "expected an integer, got 'abc'"},
      {"1e3", "expected an integer, got '1e3'"},
      {" 1", "expected an integer, got ' 1'"},
      {"--1", "expected an integer, got '--1'"},
      {"+", "expected an integer, got '+'"},
      {"0x", "expected an integer, got '0x'"},
      {"0o8", "expected an integer, got '0o8'"},
      {"9223372036854775808", "integer '9223372036854775808' is out of range (64-bit signed)"},
      {"-9223372036854775809", "integer '-9223372036854775809' is out of range (64-bit signed)"},
      {"99999999999999999999999",
       "integer '99999999999999999999999' is out of range (64-bit signed)"},
  };
  for (const Case& c : cases) {
    StatusOr<int64_t> v = ParseInteger(c.text);
    ASSERT_FALSE(v.ok()) << "'" << c.text << "' gave " << *v;
    EXPECT_EQ(v.status().message(), c.message);
  }
}

TEST(ParseNumberTest, Accepts) {
  struct Case {
    const char* text;
    double value;
  } cases[] = {
      {"3", 3},       {"-2.5", -2.5}, {".5", 0.5},  {"5.", 5},
      {"+1e3", 1000}, {"1E-3", 1e-3}, {"600", 600}, {"-0.0", -0.0},
  };
  for (const Case& c : cases) {
    StatusOr<double> v = ParseNumber(c.text);
    ASSERT_TRUE(v.ok()) << c.text << ": " << v.status().ToString();
    EXPECT_DOUBLE_EQ(*v, c.value) << c.text;
  }
  EXPECT_EQ(*ParseNumber(".inf"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(*ParseNumber("-.Inf"), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(*ParseNumber(".NaN")));
}

TEST(ParseNumberTest, Rejects) {
  for (const char* text : {"", "abc", "inf", "nan", "0x10", "1e", ".", "1.2.3", "1,5", " 1"}) {
    StatusOr<double> v = ParseNumber(text);
    ASSERT_FALSE(v.ok()) << "'" << text << "' gave " << *v;
    EXPECT_EQ(v.status().message(), std::string("expected a number, got '") + text + "'");
  }
  StatusOr<double> huge = ParseNumber("1e999");
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.status().message(), "number '1e999' is out of range");
}

TEST(ParseBooleanTest, AcceptsYamlAndEnvironmentSpellings) {
  for (const char* t : {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "1"}) {
    StatusOr<bool> v = ParseBoolean(t);
    ASSERT_TRUE(v.ok()) << t;
    EXPECT_TRUE(*v) << t;
  }
  for (const char* f : {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "0"}) {
    StatusOr<bool> v = ParseBoolean(f);
    ASSERT_TRUE(v.ok()) << f;
    EXPECT_FALSE(*v) << f;
  }
}

TEST(ParseBooleanTest, Rejects) {
  for (const char* text : {"", "2", "01", "y", "tRUE", "maybe"}) {
    StatusOr<bool> v = ParseBoolean(text);
    ASSERT_FALSE(v.ok()) << text;
    EXPECT_EQ(v.status().message(),
              std::string("expected a boolean (true/false, yes/no, on/off, 1/0), got '") + text +
                  "'");
  }
}

}  // namespace
}  // namespace flx
