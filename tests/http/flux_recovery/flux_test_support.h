// Helpers the flux recovery tests share: a temp directory, the demo model made by
// fluxserve-make-demo-model (found through FLX_BIN_DIR), commands run with their output
// captured, the samples of a Prometheus exposition, and a fixture owning one demo model.
#ifndef FLX_TESTS_HTTP_FLUX_RECOVERY_FLUX_TEST_SUPPORT_H_
#define FLX_TESTS_HTTP_FLUX_RECOVERY_FLUX_TEST_SUPPORT_H_

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "support/temp_dir.h"

namespace flx::test {

// A fresh directory under the system temp dir, removed with everything in it on destruction;
// path() is "" when it could not be made.
// $FLX_BIN_DIR/<name>, or "" when FLX_BIN_DIR is unset (the test is not run through ctest).
std::string BuildProgram(const std::string& name);

// Writes the tiny demo model (preset tiny, seed 7) to `dir`. Returns "" on success, else why
// not (the command and its output).
std::string MakeDemoModel(const std::string& dir);

// The full path of `program` on PATH, or "".
std::string FindOnPath(const std::string& program);

// Runs `command` through the shell; returns its exit status (-1 when it did not exit) and
// puts stdout and stderr together in *output.
int RunCommand(const std::string& command, std::string* output);

// Sample lines of a Prometheus text exposition, keyed by everything before the value
// ("fluxserve_oom_total{model=\"m\"}").
std::map<std::string, double> MetricSamples(const std::string& exposition);

// A test suite whose tests share one tiny demo model, written once to a temp dir by
// SetUpTestSuite; each test fails at SetUp when it could not be made.
class DemoModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<TempDir>();
    model_ = dir_->path() + "/demo";
    why_no_model_ = MakeDemoModel(model_);
  }
  static void TearDownTestSuite() { dir_.reset(); }
  void SetUp() override { ASSERT_EQ(why_no_model_, "") << "the demo model was not made"; }

  static const std::string& model() { return model_; }

 private:
  static inline std::unique_ptr<TempDir> dir_;
  static inline std::string model_;
  static inline std::string why_no_model_;
};

}  // namespace flx::test

#endif  // FLX_TESTS_HTTP_FLUX_RECOVERY_FLUX_TEST_SUPPORT_H_
