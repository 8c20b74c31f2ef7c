#include "config/declared_settings.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace flx {
namespace {

flx_setting Setting(const char* key, const char* env, const char* flag) {
  return flx_setting{sizeof(flx_setting), key, FLX_SETTING_STRING, env, flag, "V", "help", nullptr,
                     0};
}

// A pipeline factory declaring `settings` (the interface is irrelevant here).
struct FactoryWith {
  explicit FactoryWith(std::vector<flx_setting> declared) : settings(std::move(declared)) {
    for (const flx_setting& s : settings) pointers.push_back(&s);
    factory.struct_size = sizeof(flx_factory);
    factory.kind = FLX_KIND_PIPELINE;
    factory.type_name = "t";
    factory.n_settings = pointers.size();
    factory.settings = pointers.data();
  }
  std::vector<flx_setting> settings;
  std::vector<const flx_setting*> pointers;
  flx_factory factory{};
};

std::string ErrorOf(const flx_factory& factory) {
  auto read = ReadDeclaredSettings(factory, "lib type t");
  return read.ok() ? "<ok>" : read.status().message();
}

TEST(DeclaredSettingsTest, ReadsEveryFieldInOrder) {
  flx_setting required = Setting("model", nullptr, "--model");
  required.flags = FLX_SETTING_REQUIRED;
  flx_setting oneshot = Setting("load", nullptr, nullptr);
  oneshot.oneshot_value = "eager";
  oneshot.type = FLX_SETTING_BOOL;
  FactoryWith f({Setting("dtype", "ANY_DTYPE", "--dtype"), required, oneshot});
  auto read = ReadDeclaredSettings(f.factory, "lib type t");
  ASSERT_TRUE(read.ok()) << read.status().message();
  ASSERT_EQ(read->size(), 3u);
  EXPECT_EQ((*read)[0].key, "dtype");
  EXPECT_EQ((*read)[0].env, "ANY_DTYPE");
  EXPECT_EQ((*read)[0].cli_flag, "--dtype");
  EXPECT_EQ((*read)[0].value_name, "V");
  EXPECT_FALSE((*read)[0].required);
  EXPECT_TRUE((*read)[1].required);
  EXPECT_EQ((*read)[1].env, "");
  EXPECT_EQ((*read)[2].oneshot_value, "eager");
  EXPECT_EQ((*read)[2].type, FLX_SETTING_BOOL);
}

TEST(DeclaredSettingsTest, AFactoryFromBeforeAbi12DeclaresNothing) {
  FactoryWith f({Setting("dtype", "ANY_DTYPE", "--dtype")});
  f.factory.struct_size = offsetof(flx_factory, n_settings);
  auto read = ReadDeclaredSettings(f.factory, "lib type t");
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(read->empty()) << "fields past struct_size are never read";
}

TEST(DeclaredSettingsTest, MalformedDeclarationsAreRefusedNamingTheSetting) {
  struct Case {
    std::vector<flx_setting> settings;
    std::string error;
  };
  const flx_setting no_key = Setting(nullptr, nullptr, nullptr);
  flx_setting bad_type = Setting("k", nullptr, nullptr);
  bad_type.type = static_cast<flx_setting_type>(9);
  for (const Case& c : std::vector<Case>{
           {{no_key}, "lib type t: setting #0 has no key"},
           {{bad_type}, "lib type t: setting #0 ('k'): unknown type 9"},
           {{Setting("k", "lower_case", nullptr)},
            "lib type t: setting #0 ('k'): variable 'lower_case' is not [A-Z][A-Z0-9_]*"},
           {{Setting("k", nullptr, "-k")},
            "lib type t: setting #0 ('k'): flag '-k' is not --[a-z0-9-]+"},
           {{Setting("k", nullptr, "--Big")},
            "lib type t: setting #0 ('k'): flag '--Big' is not --[a-z0-9-]+"},
           {{Setting("k", nullptr, nullptr), Setting("k", nullptr, nullptr)},
            "lib type t: setting #1 ('k'): key repeated"},
           {{Setting("a", "V_1", nullptr), Setting("b", "V_1", nullptr)},
            "lib type t: setting #1 ('b'): variable 'V_1' repeated"},
           {{Setting("a", nullptr, "--f"), Setting("b", nullptr, "--f")},
            "lib type t: setting #1 ('b'): flag '--f' repeated"}}) {
    FactoryWith f(c.settings);
    EXPECT_EQ(ErrorOf(f.factory), c.error);
  }
  FactoryWith null_table({Setting("k", nullptr, nullptr)});
  null_table.factory.settings = nullptr;
  EXPECT_EQ(ErrorOf(null_table.factory),
            "lib type t: n_settings is 1 but the settings table is NULL");
  FactoryWith null_entry({Setting("k", nullptr, nullptr)});
  null_entry.pointers[0] = nullptr;
  EXPECT_EQ(ErrorOf(null_entry.factory), "lib type t: setting #0 is NULL");
}

TEST(DeclaredSettingsTest, HelpListsTheFlagsWithTheirVariables) {
  FactoryWith f({Setting("dtype", "ANY_DTYPE", "--dtype"), Setting("hidden", "H", nullptr)});
  auto read = ReadDeclaredSettings(f.factory, "lib type t");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(SettingsHelp(*read), "  --dtype V" + std::string(17, ' ') + " help [ANY_DTYPE]\n")
      << "flags padded to 28 columns; settings without a flag are left out";
}

}  // namespace
}  // namespace flx
