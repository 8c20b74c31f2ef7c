// fake_host_setup.h — points the plugin SDK's host table at the recording fake host, as
// flx_plugin_init would, so the plugin core's flx::Config and flx::Error work in-process.
#ifndef FLX_TESTS_UNIT_FLUX_PLUGIN_FAKE_HOST_SETUP_H_
#define FLX_TESTS_UNIT_FLUX_PLUGIN_FAKE_HOST_SETUP_H_

#include <gtest/gtest.h>

#include <flx/plugin.hpp>

#include "fake_host.h"

namespace flx::flux {

class FakeHostTest : public ::testing::Test {
 protected:
  void SetUp() override { flx::host_api() = flx::testing::FakeHostApi(); }
};

}  // namespace flx::flux

#endif  // FLX_TESTS_UNIT_FLUX_PLUGIN_FAKE_HOST_SETUP_H_
