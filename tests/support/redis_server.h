// redis_server.h — a real redis-server for a test: on a free loopback port, with its data
// (append-only file on) in the caller's directory, stopped and restarted at will, killed with
// the test. Header-only so any test folder can use it.
#ifndef FLX_TESTS_SUPPORT_REDIS_SERVER_H_
#define FLX_TESTS_SUPPORT_REDIS_SERVER_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace flx::test {

class RedisServer {
 public:
  // Starts redis-server with its files in `dir` (and `requirepass` when not empty); nullptr with
  // `why` when it is not installed or does not answer in time.
  static std::unique_ptr<RedisServer> Start(const std::string& dir, std::string* why,
                                            const std::string& requirepass = "") {
    std::unique_ptr<RedisServer> server(new RedisServer(dir, requirepass, FreePort()));
    if (!server->Launch(why)) return nullptr;
    return server;
  }
  ~RedisServer() { Stop(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

  // SIGTERM (Redis flushes its append-only file) and wait.
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // The same port and data directory again.
  bool Restart(std::string* why) {
    Stop();
    return Launch(why);
  }

 private:
  RedisServer(std::string dir, std::string requirepass, int port)
      : dir_(std::move(dir)), requirepass_(std::move(requirepass)), port_(port) {}

  static int FreePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd);
    return ntohs(address.sin_port);
  }

  // A connected socket to the server, or -1.
  int Connect() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port_));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) return fd;
    ::close(fd);
    return -1;
  }

  // PONG, not LOADING: the append-only file has been read back.
  bool AnswersPing() const {
    const int fd = Connect();
    if (fd < 0) return false;
    timeval timeout{1, 0};  // a server that never answers must not hang the test
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    std::string ping = "PING\r\n";
    size_t replies = 1;
    if (!requirepass_.empty()) {
      ping = "AUTH " + requirepass_ + "\r\n" + ping;
      replies = 2;
    }
    std::string reply;
    if (::send(fd, ping.data(), ping.size(), 0) == static_cast<ssize_t>(ping.size())) {
      char buffer[256];
      // One line per command (+OK, +PONG, or -LOADING while the data set is read back).
      auto lines = [&reply] {
        size_t n = 0;
        for (size_t at = reply.find("\r\n"); at != std::string::npos;
             at = reply.find("\r\n", at + 2))
          ++n;
        return n;
      };
      while (lines() < replies) {
        const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
        if (n <= 0) break;
        reply.append(buffer, static_cast<size_t>(n));
      }
    }
    ::close(fd);
    return reply.find("+PONG") != std::string::npos;
  }

  bool Launch(std::string* why) {
    std::vector<std::string> args = {"redis-server",
                                     "--port",
                                     std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--dir",
                                     dir_,
                                     "--appendonly",
                                     "yes",
                                     "--appendfsync",
                                     "always",
                                     "--save",
                                     "",
                                     "--logfile",
                                     dir_ + "/redis.log"};
    if (!requirepass_.empty()) {
      args.push_back("--requirepass");
      args.push_back(requirepass_);
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (std::string& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execvp("redis-server", argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 500; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        *why = "redis-server exited at start (installed? scripts/install-deps.sh); see " + dir_ +
               "/redis.log";
        return false;
      }
      if (AnswersPing()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    *why = "redis-server did not accept connections on port " + std::to_string(port_);
    return false;
  }

  const std::string dir_;
  const std::string requirepass_;
  const int port_;
  pid_t pid_ = -1;
};

}  // namespace flx::test

#endif  // FLX_TESTS_SUPPORT_REDIS_SERVER_H_
