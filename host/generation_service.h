// Runs one generation through a model's chain: scheduler admission, pipeline tries, and the
// recovery loop that retries failures with the knobs a policy chooses.
#ifndef FLX_HOST_GENERATION_SERVICE_H_
#define FLX_HOST_GENERATION_SERVICE_H_

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "host_api.h"
#include "stage_graph.h"
#include "status.h"

namespace flx {

// A validated request, before pipeline defaults are applied (0 / NaN = pipeline default).
// The images of an edit (POST /v1/images/edits), decoded: what flx_request.init_image, mask
// and strength carry.
struct EditInput {
  uint32_t width = 0;  // the image's, as uploaded
  uint32_t height = 0;
  std::vector<uint8_t> rgb;   // width * height * 3
  std::vector<uint8_t> mask;  // width * height, 255 = repaint; empty = image-to-image
  float strength = std::nanf("");
};

// A LoRA adapter a request asks for (flx_lora): its name and scale.
struct LoraChoice {
  std::string name;
  float scale = 1.0f;
};

struct GenerationInput {
  std::string prompt;
  std::optional<std::string> prompt_2;
  uint32_t width = 0;
  uint32_t height = 0;
  uint32_t steps = 0;
  uint32_t n = 1;
  float guidance = std::nanf("");
  uint32_t max_sequence_length = 0;
  uint64_t seed = 0;  // always set: the HTTP layer draws one when the client gave none
  // Knobs (flx/vocabulary.h) in force from the first try; recovery adds more.
  std::vector<std::pair<std::string, std::string>> overrides;
  // Where the pipeline writes its intermediate tensors (the CLI's --dump), or empty.
  std::string dump_dir;
  // An edit's images, or null for text-to-image. Shared: copies of the input (a job's, a
  // retry's) use the same pixels.
  std::shared_ptr<const EditInput> edit;
  // The LoRA adapters to apply, in order; nullopt = the pipeline's default set, an empty list
  // = none.
  std::optional<std::vector<LoraChoice>> loras;
};

// One rung a recovery policy took.
struct FallbackStep {
  uint32_t attempt = 0;  // the try that failed
  std::string stage_id;
  std::string reason_code;
  std::string message;
  std::string failure;  // the error that triggered it
  std::vector<std::pair<std::string, std::string>> overrides;
};

struct GenerationOutput {
  std::vector<flx_result::Image> images;
  std::map<std::string, std::string> params;  // effective parameters the pipeline reported
  std::vector<FallbackStep> fallbacks;
  std::vector<std::pair<std::string, std::string>> overrides;  // in force on the last try
  uint32_t attempts = 0;
  double queue_seconds = 0;
  double generate_seconds = 0;  // all tries, recovery delays included
};

// A failure with the details the HTTP layer turns into headers and fields.
struct GenerationError {
  Status status;
  flx_kind failed_kind = FLX_KIND_PIPELINE;    // the kind of stage that failed
  std::map<std::string, std::string> details;  // "retry_after_ms", "param"
  std::vector<FallbackStep> fallbacks;         // rungs tried before giving up
  uint32_t attempts = 0;                       // pipeline tries made (0: refused before)
};

// The request a chain sees, bound to a GenerationInput (generation_service.cc).
class BoundRequest;

// Folds the knobs a recovery chose into those in force: a key already there takes the new
// value in place, a new key is appended (so the order of first use is kept).
void MergeOverrides(const std::vector<std::pair<std::string, std::string>>& chosen,
                    std::vector<std::pair<std::string, std::string>>* in_force);

// Rewrites the failure of a call whose deadline (flx_call::deadline_epoch_s) has passed, and
// that nobody cancelled, as DEADLINE_EXCEEDED with the detail deadline=request, whichever
// stage noticed it and however it said so (CANCELLED from a pipeline or a scheduler).
void ExplainDeadline(const flx_call& call, GenerationError* error);

// One generation through a chain, as named steps:
//   NotReady   the pipeline must be ready (UNAVAILABLE naming the model otherwise);
//   Admit      the scheduler admits it or refuses (the refusal is returned as is);
//   RunTries   pipeline tries: after a failed try the recovery stages are asked in order and
//              the first that retries decides (a policy that fails is logged and skipped);
//              its knobs are merged into those in force for the next try; a cancelled call,
//              kMaxAttempts tries or no retry ends it with the last try's error and the
//              fallbacks taken;
//   release    the scheduler's ticket is released whatever happened;
//   deadline   a call whose deadline passed (it reads as cancelled to every stage) fails
//              with DEADLINE_EXCEEDED and the detail deadline=request (ExplainDeadline).
// Events go to `events` (may be null): STARTED per try, OOM for RESOURCE_EXHAUSTED tries,
// FALLBACK per rung taken.
class GenerationService {
 public:
  // Retries beyond this are refused whatever the policies say, so a policy that always
  // retries cannot spin forever.
  static constexpr uint32_t kMaxAttempts = 16;

  // With `hold_pipelines`, each generation also holds its pipeline loaded through the graph
  // its chain belongs to (ModelChain::graph, StageGraph::Acquire): a lazy model loads at its
  // first request and an unload waits for the generations using it. A server passes its
  // graphs' shared event hub, so the service outlives any one graph a reload replaces.
  explicit GenerationService(EventSink* events, bool hold_pipelines = false)
      : events_(events), hold_pipelines_(hold_pipelines) {}
  explicit GenerationService(StageGraph* graph) : GenerationService(graph, true) {}

  // Blocks until done. `call` carries the request id and cancellation; phases reported by
  // stages accumulate in call->phases.
  std::pair<std::optional<GenerationOutput>, std::optional<GenerationError>> Run(
      const ModelChain& chain, const GenerationInput& input, flx_call* call);

 private:
  std::pair<std::optional<GenerationOutput>, std::optional<GenerationError>> RunUntilDone(
      const ModelChain& chain, const GenerationInput& input, flx_call* call);
  std::optional<GenerationError> RunTries(const ModelChain& chain, const GenerationInput& input,
                                          BoundRequest& request, flx_call* call,
                                          GenerationOutput* out);
  // Moves a successful try's images and parameters into `out`; INTERNAL when the pipeline
  // made another number of images than asked.
  std::optional<GenerationError> TakeResult(const StageInstance& pipeline,
                                            const GenerationInput& input, flx_result result,
                                            GenerationOutput* out) const;
  // The first recovery stage that retries after `failure` (its decision in `decision`), or
  // null.
  const StageInstance* AskRecoveries(const ModelChain& chain, const flx_request& request,
                                     const flx_error* failure, uint32_t attempt, flx_call* call,
                                     flx_decision* decision) const;
  // Records the rung taken (fallback list, knobs in force, log, FALLBACK event), then waits
  // the decision's delay.
  void ApplyFallback(const StageInstance& decided_by, const Status& failure, uint32_t attempt,
                     flx_decision decision, flx_call* call, GenerationOutput* out) const;
  void Emit(const flx_call* call, const StageInstance& stage, flx_event event) const;

  EventSink* events_;
  bool hold_pipelines_ = false;
};

}  // namespace flx

#endif  // FLX_HOST_GENERATION_SERVICE_H_
