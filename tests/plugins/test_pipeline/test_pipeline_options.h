// The `config:` of a test pipeline stage: knobs that make it slow, fail or misbehave on
// purpose so host tests can exercise scheduling, recovery, readiness and the ABI boundary.
//
//   key                  type    default  effect
//   delay_ms             int     0        generate() takes this long (in steps, cancellable)
//   fail_code            string  unset    injected failures use this code, e.g.
//                                         "RESOURCE_EXHAUSTED", "INTERNAL"; alone, every try
//                                         fails
//   fail_first_n         int     unset    only the first N tries of this instance fail (with
//                                         fail_code, default RESOURCE_EXHAUSTED)
//   fail_above_pixels    int     unset    tries with width * height above this fail with
//                                         RESOURCE_EXHAUSTED "out of memory (injected)"
//   throw_std_exception  bool    false    generate() throws std::runtime_error
//   prepare_delay_ms     int     0        prepare() takes this long
//   prepare_fail         bool    false    prepare() fails with INTERNAL
//   size_multiple        int     16       the granularity a resolution_factor override
//                                         scales sides to (requested sizes need not be
//                                         multiples of it)
//   runs_file            string  unset    every generate() appends a line "<request id>" to
//                                         this file as it starts (runs counted across
//                                         processes, e.g. replicas sharing a job queue)
#ifndef FLX_TESTS_PLUGINS_TEST_PIPELINE_TEST_PIPELINE_OPTIONS_H_
#define FLX_TESTS_PLUGINS_TEST_PIPELINE_TEST_PIPELINE_OPTIONS_H_

#include <cstdint>
#include <flx/plugin.hpp>
#include <optional>
#include <string>

namespace flx::test_pipeline {

struct TestPipelineOptions {
  int64_t delay_ms = 0;
  std::optional<flx_code> fail_code;
  std::optional<int64_t> fail_first_n;
  std::optional<int64_t> fail_above_pixels;
  bool throw_std_exception = false;
  int64_t prepare_delay_ms = 0;
  bool prepare_fail = false;
  int64_t size_multiple = 16;
  std::string runs_file;
};

// Reads the options from `config` (an empty Config gives the defaults). Throws one
// flx::Error (INVALID_ARGUMENT) listing every bad key, each located by the host.
TestPipelineOptions ReadTestPipelineOptions(const flx::Config& config);

}  // namespace flx::test_pipeline

#endif  // FLX_TESTS_PLUGINS_TEST_PIPELINE_TEST_PIPELINE_OPTIONS_H_
