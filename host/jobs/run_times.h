// How long generations of a model at a size take, measured, for a job's eta_seconds. Per
// (model, size, steps asked): the mean seconds per denoising step and the mean of the rest
// of a run (text encoding, VAE decode, image encoding), each an exponential moving average
// of finished jobs (weight 1/4 for the newest). Without a measurement there is no estimate.
#ifndef FLX_HOST_JOBS_RUN_TIMES_H_
#define FLX_HOST_JOBS_RUN_TIMES_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace flx {

struct RunShape {
  std::string model;
  uint32_t width = 0;  // as asked (0 = the pipeline's default)
  uint32_t height = 0;
  uint32_t steps = 0;  // as asked (0 = the pipeline's default)
  uint32_t n = 1;
  bool operator<(const RunShape& other) const;
};

class RunTimes {
 public:
  // A finished run: `steps` steps took `step_seconds` in all, the whole run `run_seconds`.
  void Record(const RunShape& shape, uint32_t steps, double step_seconds, double run_seconds);
  // Seconds left for a run at step `step` of `steps` whose steps so far took `step_seconds`
  // (its own pace when it has one, else the measured one), plus the measured rest of a run
  // when there is one.
  std::optional<double> Remaining(const RunShape& shape, uint32_t step, uint32_t steps,
                                  double step_seconds) const;
  // Seconds until a job waiting at `position` (1 = next) ends, assuming the jobs ahead take
  // as long as it and run one at a time.
  std::optional<double> Waiting(const RunShape& shape, size_t position) const;

 private:
  struct Mean {
    double step_s = 0;
    double rest_s = 0;
    double steps = 0;
  };
  mutable std::mutex mutex_;
  std::map<RunShape, Mean> means_;
};

}  // namespace flx

#endif  // FLX_HOST_JOBS_RUN_TIMES_H_
