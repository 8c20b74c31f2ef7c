#include "config/config_node.h"

#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

#include "error.h"

namespace flx {
namespace {

// Line numbers matter: the expected messages below point into this text.
constexpr const char* kYaml =
    "name: demo\n"                  // 1
    "count: 32\n"                   // 2
    "negative: -4\n"                // 3
    "ratio: 0.25\n"                 // 4
    "flag: yes\n"                   // 5
    "off_flag: off\n"               // 6
    "quoted_int: \"12\"\n"          // 7
    "text_int: abc\n"               // 8
    "float_int: 1.5\n"              // 9
    "huge: 99999999999999999999\n"  // 10
    "nothing: ~\n"                  // 11
    "list: [a, 2, {k: v}]\n"        // 12
    "nested:\n"                     // 13
    "  inner: 1\n"                  // 14
    "  deeper: {x: y}\n";           // 15

class ConfigNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tree_ = MakeConfigTree(YAML::Load(kYaml), SourceLocation{"t.yaml", 20, 5}, "stages[1].config",
                           "t.yaml", "demo");
    root_ = ConfigTreeRoot(*tree_);
  }

  // The message of `error` (consumed), or "" for success.
  static std::string Message(flx_error* error) {
    if (error == nullptr) return "";
    std::string message = ApiErrorMessage(error);
    FreeError(error);
    return message;
  }

  const flx_config* Node(const char* key) {
    int found = 0;
    const flx_config* out = nullptr;
    EXPECT_EQ(Message(ConfigGetNode(root_, key, &found, &out)), "") << key;
    EXPECT_EQ(found, 1) << key;
    return out;
  }

  std::shared_ptr<ConfigTree> tree_;
  const flx_config* root_ = nullptr;
};

TEST_F(ConfigNodeTest, GetStringReadsAnyScalar) {
  struct Case {
    const char* key;
    const char* value;
  } cases[] = {{"name", "demo"}, {"count", "32"}, {"quoted_int", "12"}, {"flag", "yes"}};
  for (const Case& c : cases) {
    int found = 0;
    const char* out = nullptr;
    ASSERT_EQ(ConfigGetString(root_, c.key, &found, &out), nullptr) << c.key;
    EXPECT_EQ(found, 1) << c.key;
    EXPECT_STREQ(out, c.value) << c.key;
  }
}

TEST_F(ConfigNodeTest, TypedGettersParse) {
  struct IntCase {
    const char* key;
    int64_t value;
  } ints[] = {{"count", 32}, {"negative", -4}, {"quoted_int", 12}};
  for (const IntCase& c : ints) {
    int found = 0;
    int64_t out = 0;
    ASSERT_EQ(ConfigGetInt(root_, c.key, &found, &out), nullptr) << c.key;
    EXPECT_EQ(found, 1);
    EXPECT_EQ(out, c.value) << c.key;
  }
  struct DoubleCase {
    const char* key;
    double value;
  } doubles[] = {{"ratio", 0.25}, {"count", 32.0}, {"negative", -4.0}};
  for (const DoubleCase& c : doubles) {
    int found = 0;
    double out = 0;
    ASSERT_EQ(ConfigGetDouble(root_, c.key, &found, &out), nullptr) << c.key;
    EXPECT_EQ(found, 1);
    EXPECT_DOUBLE_EQ(out, c.value) << c.key;
  }
  struct BoolCase {
    const char* key;
    int value;
  } bools[] = {{"flag", 1}, {"off_flag", 0}};
  for (const BoolCase& c : bools) {
    int found = 0;
    int out = -1;
    ASSERT_EQ(ConfigGetBool(root_, c.key, &found, &out), nullptr) << c.key;
    EXPECT_EQ(found, 1);
    EXPECT_EQ(out, c.value) << c.key;
  }
}

TEST_F(ConfigNodeTest, TypeErrorsNameFileLineColumnAndPath) {
  int found = 7;
  int64_t i = 99;
  double d = 9.5;
  int b = 3;
  const char* s = "untouched";
  const flx_config* n = nullptr;
  struct Case {
    std::string got;
    std::string expected;
  } cases[] = {
      {Message(ConfigGetInt(root_, "text_int", &found, &i)),
       "t.yaml:8:11: stages[1].config.text_int: expected an integer, got 'abc'"},
      {Message(ConfigGetInt(root_, "float_int", &found, &i)),
       "t.yaml:9:12: stages[1].config.float_int: expected an integer, got '1.5'"},
      {Message(ConfigGetInt(root_, "huge", &found, &i)),
       "t.yaml:10:7: stages[1].config.huge: integer '99999999999999999999' is out of range "
       "(64-bit signed)"},
      {Message(ConfigGetInt(root_, "nested", &found, &i)),
       "t.yaml:14:3: stages[1].config.nested: expected an integer, got a map"},
      {Message(ConfigGetDouble(root_, "name", &found, &d)),
       "t.yaml:1:7: stages[1].config.name: expected a number, got 'demo'"},
      {Message(ConfigGetBool(root_, "count", &found, &b)),
       "t.yaml:2:8: stages[1].config.count: expected a boolean (true/false, yes/no, on/off, 1/0), "
       "got '32'"},
      {Message(ConfigGetBool(root_, "list", &found, &b)),
       "t.yaml:12:7: stages[1].config.list: expected a boolean (true/false, yes/no, on/off, 1/0), "
       "got a sequence"},
      {Message(ConfigGetString(root_, "list", &found, &s)),
       "t.yaml:12:7: stages[1].config.list: expected a string, got a sequence"},
      {Message(ConfigGetString(root_, "nothing", &found, &s)),
       "t.yaml:11:10: stages[1].config.nothing: expected a string, got null"},
      {Message(ConfigGetNode(root_, "name", &found, &n)),
       "t.yaml:1:7: stages[1].config.name: expected a map or a sequence, got 'demo'"},
  };
  for (const Case& c : cases) EXPECT_EQ(c.got, c.expected);
  EXPECT_EQ(found, 7) << "found must stay untouched on error";
  EXPECT_EQ(i, 99);
  EXPECT_EQ(d, 9.5);
  EXPECT_EQ(b, 3);
  EXPECT_STREQ(s, "untouched");
  EXPECT_EQ(n, nullptr);

  flx_error* error = ConfigGetInt(root_, "text_int", &found, &i);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(ApiErrorCode(error), FLX_INVALID_ARGUMENT);
  FreeError(error);
}

TEST_F(ConfigNodeTest, MissingKeyAndNullConfigReportNotFound) {
  int found = 5;
  int64_t out = 1234;
  EXPECT_EQ(ConfigGetInt(root_, "absent", &found, &out), nullptr);
  EXPECT_EQ(found, 0);
  EXPECT_EQ(out, 1234);
  found = 5;
  const char* s = "kept";
  EXPECT_EQ(ConfigGetString(nullptr, "name", &found, &s), nullptr);
  EXPECT_EQ(found, 0);
  EXPECT_STREQ(s, "kept");
  EXPECT_EQ(ConfigSize(nullptr), 0u);
  EXPECT_EQ(ConfigKeyCount(nullptr), 0u);
  EXPECT_EQ(ConfigKeyAt(nullptr, 0), nullptr);
  EXPECT_EQ(ConfigScalar(nullptr), nullptr);
}

TEST_F(ConfigNodeTest, SequencesAndNestedMaps) {
  const flx_config* list = Node("list");
  ASSERT_NE(list, nullptr);
  EXPECT_EQ(ConfigSize(list), 3u);
  EXPECT_EQ(ConfigKeyCount(list), 0u);
  EXPECT_EQ(ConfigScalar(list), nullptr);

  const flx_config* first = nullptr;
  ASSERT_EQ(ConfigAt(list, 0, &first), nullptr);
  EXPECT_STREQ(ConfigScalar(first), "a");
  const flx_config* third = nullptr;
  ASSERT_EQ(ConfigAt(list, 2, &third), nullptr);
  int found = 0;
  const char* value = nullptr;
  ASSERT_EQ(ConfigGetString(third, "k", &found, &value), nullptr);
  EXPECT_STREQ(value, "v");
  int64_t number = 0;
  EXPECT_EQ(Message(ConfigGetInt(third, "k", &found, &number)),
            "t.yaml:12:18: stages[1].config.list[2].k: expected an integer, got 'v'");

  const flx_config* untouched = root_;
  EXPECT_EQ(Message(ConfigAt(list, 3, &untouched)),
            "t.yaml:12:7: stages[1].config.list: index 3 is out of range for a sequence of 3");
  EXPECT_EQ(untouched, root_);
  EXPECT_EQ(Message(ConfigAt(root_, 0, &untouched)),
            "t.yaml:20:5: stages[1].config: expected a sequence, got a map");
  EXPECT_EQ(Message(ConfigGetString(list, "k", &found, &value)),
            "t.yaml:12:7: stages[1].config.list: cannot look up 'k': expected a map, got a "
            "sequence");

  flx_error* range = ConfigAt(list, 9, &untouched);
  EXPECT_EQ(ApiErrorCode(range), FLX_OUT_OF_RANGE);
  FreeError(range);
}

TEST_F(ConfigNodeTest, KeysInFileOrder) {
  ASSERT_EQ(ConfigKeyCount(root_), 13u);
  EXPECT_STREQ(ConfigKeyAt(root_, 0), "name");
  EXPECT_STREQ(ConfigKeyAt(root_, 12), "nested");
  EXPECT_EQ(ConfigKeyAt(root_, 13), nullptr);
  const flx_config* nested = Node("nested");
  ASSERT_EQ(ConfigKeyCount(nested), 2u);
  EXPECT_STREQ(ConfigKeyAt(nested, 1), "deeper");
}

TEST_F(ConfigNodeTest, ConfigErrorLocatesNode) {
  flx_error* error = ConfigError(Node("nested"), "bad thing");
  EXPECT_EQ(ApiErrorCode(error), FLX_INVALID_ARGUMENT);
  EXPECT_STREQ(ApiErrorMessage(error), "t.yaml:14:3: stages[1].config.nested: bad thing");
  FreeError(error);
  EXPECT_EQ(Message(ConfigError(root_, "root problem")),
            "t.yaml:20:5: stages[1].config: root problem");
  EXPECT_EQ(Message(ConfigError(nullptr, "no node")), "no node");
  EXPECT_EQ(Message(ConfigError(root_, nullptr)), "t.yaml:20:5: stages[1].config: ");
}

TEST_F(ConfigNodeTest, StringsLiveAsLongAsTheTree) {
  int found = 0;
  const char* name = nullptr;
  ASSERT_EQ(ConfigGetString(root_, "name", &found, &name), nullptr);
  const char* again = nullptr;
  ASSERT_EQ(ConfigGetString(root_, "name", &found, &again), nullptr);
  EXPECT_EQ(name, again) << "the same storage is handed out every time";
  EXPECT_STREQ(name, "demo");
}

std::vector<std::string> WarningPaths(const Diagnostics& diags) {
  std::vector<std::string> paths;
  for (const Diagnostic& d : diags.list()) {
    EXPECT_EQ(d.severity, Diagnostic::Severity::kWarning);
    paths.push_back(d.path);
  }
  return paths;
}

TEST_F(ConfigNodeTest, UnreadKeysAreWarnedAtTheirLocation) {
  int found = 0;
  const char* s = nullptr;
  int64_t i = 0;
  ASSERT_EQ(ConfigGetString(root_, "name", &found, &s), nullptr);
  ASSERT_EQ(ConfigGetString(root_, "absent", &found, &s), nullptr);
  flx_error* wrong = ConfigGetInt(root_, "text_int", &found, &i);  // read, though wrong
  FreeError(wrong);
  ASSERT_EQ(ConfigGetInt(Node("nested"), "inner", &found, &i), nullptr);
  for (size_t k = 0; k < ConfigKeyCount(root_); ++k) {
    if (std::strcmp(ConfigKeyAt(root_, k), "ratio") == 0) break;  // key_at marks a read
  }

  Diagnostics diags;
  ReportUnreadKeys(*tree_, &diags);
  EXPECT_EQ(WarningPaths(diags),
            (std::vector<std::string>{"stages[1].config.flag", "stages[1].config.off_flag",
                                      "stages[1].config.quoted_int", "stages[1].config.float_int",
                                      "stages[1].config.huge", "stages[1].config.nothing",
                                      "stages[1].config.list", "stages[1].config.nested.deeper"}));
  ASSERT_FALSE(diags.list().empty());
  EXPECT_EQ(diags.list().front().ToString(),
            "t.yaml:5:1: warning: stages[1].config.flag: key 'flag' was not read by stage "
            "'demo' (misspelled?)");
  EXPECT_EQ(diags.list().back().ToString(),
            "t.yaml:15:3: warning: stages[1].config.nested.deeper: key 'deeper' was not read "
            "by stage 'demo' (misspelled?)");
}

TEST_F(ConfigNodeTest, KeysInsideSequencesAreTracked) {
  const flx_config* list = Node("list");
  Diagnostics before;
  ReportUnreadKeys(*tree_, &before);
  bool list_k_reported = false;
  for (const Diagnostic& d : before.list())
    list_k_reported |= d.path == "stages[1].config.list[2].k";
  EXPECT_TRUE(list_k_reported) << before.ToString();

  const flx_config* third = nullptr;
  ASSERT_EQ(ConfigAt(list, 2, &third), nullptr);
  int found = 0;
  const char* s = nullptr;
  ASSERT_EQ(ConfigGetString(third, "k", &found, &s), nullptr);
  Diagnostics after;
  ReportUnreadKeys(*tree_, &after);
  for (const Diagnostic& d : after.list()) EXPECT_NE(d.path, "stages[1].config.list[2].k");
}

TEST(ConfigTreeTest, NullRootIsAnEmptyMap) {
  auto tree = MakeConfigTree(YAML::Node(), SourceLocation{"s.yaml", 3, 3}, "stages[0].config",
                             "s.yaml", "s");
  const flx_config* root = ConfigTreeRoot(*tree);
  EXPECT_EQ(ConfigKeyCount(root), 0u);
  int found = 1;
  const char* out = nullptr;
  EXPECT_EQ(ConfigGetString(root, "x", &found, &out), nullptr);
  EXPECT_EQ(found, 0);
  Diagnostics diags;
  ReportUnreadKeys(*tree, &diags);
  EXPECT_TRUE(diags.empty());
}

TEST(ConfigTreeTest, ConcurrentReadsAndReports) {
  auto tree =
      MakeConfigTree(YAML::Load(kYaml), SourceLocation{"t.yaml", 1, 1}, "c", "t.yaml", "demo");
  const flx_config* root = ConfigTreeRoot(*tree);
  constexpr int kThreads = 8;
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int iteration = 0; iteration < 500; ++iteration) {
        int found = 0;
        int64_t count = 0;
        const char* name = nullptr;
        const flx_config* nested = nullptr;
        if (ConfigGetInt(root, "count", &found, &count) != nullptr || count != 32) ++failures[t];
        if (ConfigGetString(root, "name", &found, &name) != nullptr ||
            std::strcmp(name, "demo") != 0) {
          ++failures[t];
        }
        if (ConfigGetNode(root, "nested", &found, &nested) != nullptr) ++failures[t];
        int64_t inner = 0;
        if (ConfigGetInt(nested, "inner", &found, &inner) != nullptr || inner != 1) ++failures[t];
        Diagnostics diags;
        ReportUnreadKeys(*tree, &diags);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
  Diagnostics diags;
  ReportUnreadKeys(*tree, &diags);
  for (const Diagnostic& d : diags.list()) {
    EXPECT_NE(d.path, "c.count");
    EXPECT_NE(d.path, "c.nested.inner");
  }
  EXPECT_EQ(diags.list().size(), 11u) << diags.ToString();
}

}  // namespace
}  // namespace flx
