// Idempotency-Key: which job a client's key started, so a retry with the same key and the
// same request joins that job (or gets its stored result) instead of running the model
// again, and the same key with another request is refused. Keys are scoped by the caller
// (the API key in use), kept until forgotten or until max_keys newer ones push them out.
#ifndef FLX_HOST_JOBS_IDEMPOTENCY_KEYS_H_
#define FLX_HOST_JOBS_IDEMPOTENCY_KEYS_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <string>

namespace flx {

class IdempotencyKeys {
 public:
  explicit IdempotencyKeys(size_t max_keys) : max_keys_(max_keys) {}

  struct Claim {
    enum class Kind {
      kNew,       // the caller owns the key now: Bind() it to a job, or Release() it
      kExisting,  // the key belongs to the job `job_id`, started by the same request
      kMismatch,  // the key was used with another request
    };
    Kind kind = Kind::kNew;
    std::string job_id;
  };

  // Claims `key` for a request whose fingerprint (its body, say) is `fingerprint`. While
  // another request holds the key unbound (between its Claim and its Bind or Release), waits
  // for it. Thread-safe.
  Claim ClaimKey(const std::string& key, const std::string& fingerprint);
  // The job the claimed key started.
  void Bind(const std::string& key, const std::string& job_id);
  // Frees a claimed key whose request started no job (refused), or a key whose job is gone.
  void Release(const std::string& key);

 private:
  struct Entry {
    std::string fingerprint;
    std::string job_id;  // "" while the claim is unbound
  };
  void TrimLocked();

  const size_t max_keys_;
  std::mutex mutex_;
  std::condition_variable bound_cv_;
  std::map<std::string, Entry> entries_;
  std::deque<std::string> order_;  // oldest first
};

}  // namespace flx

#endif  // FLX_HOST_JOBS_IDEMPOTENCY_KEYS_H_
