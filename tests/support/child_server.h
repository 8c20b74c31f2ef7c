// A `fluxserve serve` child process for tests that need a server of its own: started with
// fork + setrlimit + exec so a resource limit (here RLIMIT_AS) applies from its first
// instruction, listening on a free port it reports through --port-file, with its output in a
// log file, and its memory readable from /proc/<pid>/status.
#ifndef FLX_TESTS_SUPPORT_CHILD_SERVER_H_
#define FLX_TESTS_SUPPORT_CHILD_SERVER_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace flx::test {

struct ChildResponse {
  int status = 0;  // 0: no HTTP answer (see error)
  std::string body;
  std::string error;
  std::map<std::string, std::string> headers;  // as sent (the last of repeated names)
};

// Sizes from /proc/<pid>/status, in bytes; 0 when unreadable.
struct ProcessMemory {
  uint64_t vm_peak = 0;  // the most address space the process ever mapped
  uint64_t vm_size = 0;  // address space mapped now
  uint64_t vm_hwm = 0;   // the most resident memory
};

class ChildServer {
 public:
  // Runs `fluxserve serve --config <config> --listen 127.0.0.1:0` with files in `work_dir`
  // and, when given, RLIMIT_AS (soft and hard) set to `address_space_limit` bytes before
  // exec. Waits up to `ready_timeout_s` for GET /readyz to answer 200. Returns nullptr and
  // sets *why (with the child's log) when it does not get there.
  static std::unique_ptr<ChildServer> Start(const std::string& fluxserve, const std::string& config,
                                            const std::string& work_dir,
                                            std::optional<uint64_t> address_space_limit,
                                            double ready_timeout_s, std::string* why);
  // Stops the child (SIGTERM, SIGKILL after a grace period) and reaps it.
  ~ChildServer();
  ChildServer(const ChildServer&) = delete;
  ChildServer& operator=(const ChildServer&) = delete;

  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  // True while the child has not exited.
  bool Alive();
  // Sends `signal` (e.g. SIGKILL) and, unless it is 0, reaps the child.
  void Kill(int signal);
  // How the child ended ("exit code 1", "signal 6 (Aborted)"), or "running".
  std::string ExitDescription();
  ProcessMemory Memory() const;
  // The child's stdout and stderr so far.
  std::string Log() const;

  ChildResponse Get(const std::string& path) const;
  ChildResponse Post(const std::string& path, const std::string& json,
                     const std::map<std::string, std::string>& headers = {}) const;

 private:
  ChildServer(pid_t pid, std::string log_file) : pid_(pid), log_file_(std::move(log_file)) {}
  ChildResponse Send(const std::string& method, const std::string& path, const std::string& body,
                     const std::map<std::string, std::string>& headers = {}) const;

  pid_t pid_;
  int exit_status_ = 0;
  std::string log_file_;
  uint16_t port_ = 0;
  bool reaped_ = false;
};

}  // namespace flx::test

#endif  // FLX_TESTS_SUPPORT_CHILD_SERVER_H_
