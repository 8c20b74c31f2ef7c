// read_deadlines.h — whole-message read deadlines for HTTP connections.
//
// Poco's socket timeout bounds each read, so a client that sends one byte every few seconds
// (slowloris) holds a worker thread forever. A ReadDeadlines watchdog bounds the whole read:
// a connection arms a deadline before it reads a request's headers (or body), and when the
// deadline passes before it disarms, the watchdog shuts the socket's read side down. The
// blocked read then sees end-of-stream at once, and the connection, asking the guard whether
// the deadline expired, answers 408 and closes.
#ifndef FLX_HOST_HTTP_READ_DEADLINES_H_
#define FLX_HOST_HTTP_READ_DEADLINES_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>

namespace flx {

class ReadDeadlines {
 public:
  // Starts the watchdog thread; the destructor stops and joins it.
  ReadDeadlines();
  ~ReadDeadlines();
  ReadDeadlines(const ReadDeadlines&) = delete;
  ReadDeadlines& operator=(const ReadDeadlines&) = delete;

  // One armed deadline. Disarm() (or destruction) must happen before the socket is closed,
  // so the watchdog never shuts down a descriptor number that was reused.
  class Guard {
   public:
    Guard(Guard&& other) noexcept;
    Guard& operator=(Guard&&) = delete;
    ~Guard() { Disarm(); }
    // Stops watching; returns whether the deadline had expired.
    bool Disarm();
    // Whether the deadline expired (the read side is shut down then).
    bool expired() const;

   private:
    friend class ReadDeadlines;
    Guard(ReadDeadlines* owner, uint64_t id) : owner_(owner), id_(id) {}
    ReadDeadlines* owner_;
    uint64_t id_;
  };

  // Watches socket `fd` until `seconds` from now.
  Guard Arm(int fd, double seconds);
  // Deadlines that expired so far (for tests and logs).
  uint64_t expired_count() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    int fd;
    Clock::time_point deadline;
    bool expired = false;
  };
  bool Disarm(uint64_t id);
  bool Expired(uint64_t id) const;
  void Watch();

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<uint64_t, Entry> entries_;
  uint64_t next_id_ = 1;
  uint64_t expired_count_ = 0;
  bool stopping_ = false;
  std::thread watcher_;
};

}  // namespace flx

#endif  // FLX_HOST_HTTP_READ_DEADLINES_H_
