// cancellation.h — stopping a generation inside its long phases, not only between them.
//
// One transformer step or one VAE decode of a large image can take minutes on a CPU, so a
// request whose client went away (or whose server is shutting down) must stop inside them.
// Rather than thread a callback through every network's signature, the pipeline installs a
// CancellationScope for the calling thread, and the networks call cancellation_point() at
// their natural boundaries: each transformer and T5 block, each attention slice, each VAE
// block and tile. Networks run on the caller's thread (libtorch parallelises inside ops), so
// a thread-local scope reaches them; a point with no scope installed costs a branch.
#ifndef FLX_FLUX_MODEL_CANCELLATION_H_
#define FLX_FLUX_MODEL_CANCELLATION_H_

#include <functional>
#include <stdexcept>

namespace flx::flux {

// Thrown by cancellation_point() (and FluxPipeline::generate()) when the scope's check says
// the work is no longer wanted.
class Cancelled : public std::runtime_error {
  using runtime_error::runtime_error;
};

// Installs `cancelled` for the calling thread while alive (scopes nest; the innermost wins).
// An empty function installs nothing.
class CancellationScope {
 public:
  explicit CancellationScope(std::function<bool()> cancelled);
  ~CancellationScope();
  CancellationScope(const CancellationScope&) = delete;
  CancellationScope& operator=(const CancellationScope&) = delete;

 private:
  std::function<bool()> cancelled_;
  const std::function<bool()>* previous_;
};

// Throws Cancelled("generation cancelled <where>") when this thread's scope says so.
void cancellation_point(const char* where);

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_CANCELLATION_H_
