#include "support/child_server.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace flx::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// "VmPeak:\t  123456 kB" -> bytes.
uint64_t StatusBytes(const std::string& status, const std::string& field) {
  const size_t at = status.find(field + ":");
  if (at == std::string::npos) return 0;
  std::istringstream value(status.substr(at + field.size() + 1));
  uint64_t kib = 0;
  value >> kib;
  return kib * 1024;
}

}  // namespace

std::unique_ptr<ChildServer> ChildServer::Start(const std::string& fluxserve,
                                                const std::string& config,
                                                const std::string& work_dir,
                                                std::optional<uint64_t> address_space_limit,
                                                double ready_timeout_s, std::string* why) {
  const std::string port_file = work_dir + "/port";
  const std::string log_file = work_dir + "/server.log";
  ::unlink(port_file.c_str());
  // The child runs in work_dir, which has no .env for serve to read.
  std::vector<std::string> args = {fluxserve,  "serve",       "--config",    config,
                                   "--listen", "127.0.0.1:0", "--port-file", port_file};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const int log_fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    *why = "cannot write " + log_file;
    return nullptr;
  }
  rlimit limit{};
  if (address_space_limit) limit.rlim_cur = limit.rlim_max = *address_space_limit;

  // Between fork and exec the child only makes system calls: the parent may have threads.
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (address_space_limit && ::setrlimit(RLIMIT_AS, &limit) != 0) ::_exit(126);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    if (::chdir(work_dir.c_str()) != 0) ::_exit(125);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  if (pid < 0) {
    *why = "fork failed";
    return nullptr;
  }
  std::unique_ptr<ChildServer> child(new ChildServer(pid, log_file));

  const Clock::time_point deadline =
      Clock::now() +
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(ready_timeout_s));
  while (Clock::now() < deadline && child->Alive()) {
    if (child->port_ == 0) {
      const int port = std::atoi(ReadFile(port_file).c_str());
      if (port > 0) child->port_ = static_cast<uint16_t>(port);
    }
    if (child->port_ != 0 && child->Get("/readyz").status == 200) return child;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  *why = std::string(child->Alive() ? "not ready in time" : "the server exited") + "; log:\n" +
         child->Log();
  return nullptr;
}

ChildServer::~ChildServer() {
  if (!Alive()) return;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 200 && Alive(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (Alive()) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

bool ChildServer::Alive() {
  if (reaped_) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    reaped_ = true;
    exit_status_ = status;
  }
  return !reaped_;
}

void ChildServer::Kill(int signal) {
  if (!Alive()) return;
  ::kill(pid_, signal);
  if (signal == 0) return;
  int status = 0;
  if (::waitpid(pid_, &status, 0) == pid_) {
    reaped_ = true;
    exit_status_ = status;
  }
}

std::string ChildServer::ExitDescription() {
  if (Alive()) return "running";
  if (WIFSIGNALED(exit_status_)) {
    return "signal " + std::to_string(WTERMSIG(exit_status_)) + " (" +
           ::strsignal(WTERMSIG(exit_status_)) + ")";
  }
  return "exit code " + std::to_string(WEXITSTATUS(exit_status_));
}

ProcessMemory ChildServer::Memory() const {
  const std::string status = ReadFile("/proc/" + std::to_string(pid_) + "/status");
  return ProcessMemory{StatusBytes(status, "VmPeak"), StatusBytes(status, "VmSize"),
                       StatusBytes(status, "VmHWM")};
}

std::string ChildServer::Log() const { return ReadFile(log_file_); }

ChildResponse ChildServer::Get(const std::string& path) const { return Send("GET", path, ""); }

ChildResponse ChildServer::Post(const std::string& path, const std::string& json,
                                const std::map<std::string, std::string>& headers) const {
  return Send("POST", path, json, headers);
}

ChildResponse ChildServer::Send(const std::string& method, const std::string& path,
                                const std::string& body,
                                const std::map<std::string, std::string>& headers) const {
  ChildResponse out;
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", port_);
    session.setTimeout(Poco::Timespan(120, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [name, value] : headers) request.set(name, value);
    if (method == "POST") {
      if (!request.has("Content-Type")) request.setContentType("application/json");
      request.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), out.body);
    out.status = static_cast<int>(response.getStatus());
    for (const auto& [name, value] : response) out.headers[name] = value;
  } catch (const Poco::Exception& e) {
    out.error = e.displayText();
  }
  return out;
}

}  // namespace flx::test
