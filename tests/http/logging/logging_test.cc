// What an operator reads: `fluxserve serve` with FLUX_STRUCTURED_LOGS=1 writes one JSON object
// per line (every line parses; each carries ts, level, logger, msg; every request's access
// line carries its request id and the summary as fields), and in text mode the summary line
// of a generation names status, seeds, size, steps and durations.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A scheduler and a slow-enough test pipeline for `test-model`; `flaky-model` runs out of
// memory on its first try and succeeds after the recovery stage's first rung. The recovery
// stage warns at creation (its second rung is unreachable): a plugin's own log line.
std::string Graph() {
  return "version: 1\n"
         "server: {listen: \"127.0.0.1:0\", output_dir: out}\n"
         "plugin_paths: [\"" +
         Env("FLX_PLUGIN_DIR") +
         "\"]\n"
         "stages:\n"
         "  - {id: queue, kind: scheduler, library: flx_scheduler, type: fifo}\n"
         "  - {id: pipe, kind: pipeline, library: flx_test_pipeline, type: test,\n"
         "     config: {delay_ms: 20}}\n"
         "  - {id: flaky, kind: pipeline, library: flx_test_pipeline, type: test,\n"
         "     config: {fail_first_n: 1}}\n"
         "  - {id: oom, kind: recovery, library: flx_recovery, type: ladder,\n"
         "     config: {max_attempts: 2, ladder: [{empty_cache: true, reason: cache_emptied},\n"
         "                                        {dtype: float32}]}}\n"
         "  - {id: prom, kind: metrics, library: flx_metrics, type: prometheus}\n"
         "models:\n"
         "  test-model: [queue, pipe]\n"
         "  flaky-model: [queue, oom, flaky]\n"
         "observers: [prom]\n";
}

// One `fluxserve serve` process in its own temp directory, stdout and stderr to a file.
class Server {
 public:
  explicit Server(const std::vector<std::string>& env) {
    std::string tmpl = (fs::temp_directory_path() / "fluxserve-logging-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    std::ofstream(dir_ + "/graph.yaml") << Graph();
    log_path_ = dir_ + "/serve.log";
    std::vector<std::string> args = {Env("FLX_BIN_DIR") + "/fluxserve",
                                     "serve",
                                     "--config",
                                     dir_ + "/graph.yaml",
                                     "--port-file",
                                     dir_ + "/port"};
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) {
      // The test decides the log settings; inherited ones would change what it reads.
      std::string entry = *e;
      if (entry.rfind("FLUX_", 0) == 0) continue;
      env_strings.push_back(entry);
    }
    env_strings.insert(env_strings.end(), env.begin(), env.end());
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawn_file_actions_addchdir_np(&actions, dir_.c_str());
    int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_EQ(rc, 0) << "cannot start " << args[0];
    if (rc != 0) pid_ = -1;
    for (int i = 0; pid_ > 0 && i < 3000 && port_ == 0; ++i) {
      std::ifstream(dir_ + "/port") >> port_;
      int status;
      if (port_ == 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      if (port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_GT(port_, 0) << "serve did not start:\n" << Log();
  }

  ~Server() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  int port() const { return port_; }
  std::string Log() const { return ReadFile(log_path_); }

  // Sends SIGTERM and returns the exit code (-1 when it had to be killed).
  int Stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ADD_FAILURE() << "serve did not exit after SIGTERM:\n" << Log();
    return -1;
  }

  // Sends a request with X-Request-Id `request_id`; returns the status (0 on failure).
  int Send(const std::string& method, const std::string& path, const std::string& body,
           const std::string& request_id) const {
    try {
      Poco::Net::HTTPClientSession session("127.0.0.1", Poco::UInt16(port_));
      session.setTimeout(Poco::Timespan(60, 0));
      Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
      request.set("X-Request-Id", request_id);
      if (method == "POST") {
        request.setContentType("application/json");
        request.setContentLength(static_cast<std::streamsize>(body.size()));
      }
      session.sendRequest(request) << body;
      Poco::Net::HTTPResponse response;
      std::string ignored;
      Poco::StreamCopier::copyToString(session.receiveResponse(response), ignored);
      return int(response.getStatus());
    } catch (const Poco::Exception& e) {
      ADD_FAILURE() << method << " " << path << ": " << e.displayText();
      return 0;
    }
  }

 private:
  std::string dir_;
  std::string log_path_;
  pid_t pid_ = -1;
  int port_ = 0;
};

constexpr const char* kGenerations = "/v1/images/generations";

struct Request {
  const char* id;
  const char* method;
  const char* path;
  const char* body;
  int status;
};

// Covers a success with a seed, a success after a fallback, a 400, a 404 for an unknown
// model and a GET (logged at debug level, which FLUX_LOG_LEVEL=debug shows).
const Request kRequests[] = {
    {"log-ok-1", "POST", kGenerations, R"({"prompt":"a","size":"32x16","n":2,"steps":3,"seed":11})",
     200},
    {"log-fallback-2", "POST", kGenerations,
     R"({"prompt":"b","size":"16x16","model":"flaky-model"})", 200},
    {"log-bad-3", "POST", kGenerations, R"({"size":"16x16"})", 400},
    {"log-unknown-4", "POST", kGenerations, R"({"prompt":"c","model":"nope"})", 404},
    {"log-metrics-5", "GET", "/metrics", "", 200},
};

// Every line of `log` parsed as a JSON object; fails the test for each line that is not one.
std::vector<Poco::JSON::Object::Ptr> ParseLines(const std::string& log) {
  std::vector<Poco::JSON::Object::Ptr> out;
  std::istringstream in(log);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    try {
      Poco::JSON::Parser parser;
      auto value = parser.parse(line);
      if (value.type() == typeid(Poco::JSON::Object::Ptr)) {
        out.push_back(value.extract<Poco::JSON::Object::Ptr>());
        continue;
      }
    } catch (const Poco::Exception&) {
    }
    ADD_FAILURE() << "line " << number << " is not a JSON object: " << line;
  }
  return out;
}

std::string String(const Poco::JSON::Object::Ptr& line, const std::string& key) {
  if (!line->has(key) || !line->get(key).isString()) return "";
  return line->getValue<std::string>(key);
}

TEST(LoggingTest, StructuredLogsAreOneJsonObjectPerLineWithRequestFields) {
  Server server({"FLUX_STRUCTURED_LOGS=1", "FLUX_LOG_LEVEL=debug"});
  ASSERT_GT(server.port(), 0);
  for (const Request& r : kRequests) {
    EXPECT_EQ(server.Send(r.method, r.path, r.body, r.id), r.status) << r.id;
  }
  ASSERT_EQ(server.Stop(), 0) << server.Log();
  const std::string log = server.Log();
  SCOPED_TRACE(log);
  auto lines = ParseLines(log);
  ASSERT_GT(lines.size(), 5u);

  const std::regex iso_time(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  const std::set<std::string> levels = {"trace", "debug", "info", "warning", "error", "critical"};
  std::set<std::string> loggers;
  for (const auto& line : lines) {
    EXPECT_TRUE(std::regex_match(String(line, "ts"), iso_time)) << String(line, "ts");
    EXPECT_EQ(levels.count(String(line, "level")), 1u) << String(line, "level");
    EXPECT_FALSE(String(line, "logger").empty());
    EXPECT_TRUE(line->has("msg") && line->get("msg").isString());
    loggers.insert(String(line, "logger"));
  }
  EXPECT_EQ(loggers.count("host"), 1u);
  EXPECT_EQ(loggers.count("http"), 1u);
  EXPECT_EQ(loggers.count("oom"), 1u) << "the recovery plugin's warning, logged as its stage";

  // The access line of each request: its id and status as fields.
  std::map<std::string, Poco::JSON::Object::Ptr> access;
  for (const auto& line : lines) {
    if (line->has("status") && !String(line, "request_id").empty()) {
      access[String(line, "request_id")] = line;
    }
  }
  for (const Request& r : kRequests) {
    auto it = access.find(r.id);
    ASSERT_NE(it, access.end()) << "no access line with request_id " << r.id;
    EXPECT_EQ(it->second->getValue<int>("status"), r.status) << r.id;
    EXPECT_EQ(String(it->second, "method"), r.method) << r.id;
    EXPECT_EQ(String(it->second, "path"), r.path) << r.id;
    EXPECT_GE(it->second->getValue<double>("total_s"), 0) << r.id;
  }

  auto ok = access["log-ok-1"];
  EXPECT_EQ(String(ok, "model"), "test-model");
  EXPECT_EQ(String(ok, "size"), "32x16");
  EXPECT_EQ(ok->getValue<int>("steps"), 3);
  EXPECT_EQ(ok->getValue<int>("n"), 2);
  auto seeds = ok->getArray("seeds");
  ASSERT_TRUE(seeds);
  ASSERT_EQ(seeds->size(), 2u);
  EXPECT_EQ(seeds->getElement<uint64_t>(0), 11u);
  EXPECT_EQ(seeds->getElement<uint64_t>(1), 12u);
  for (const char* duration : {"queue_s", "generate_s", "encode_s", "save_s"}) {
    ASSERT_TRUE(ok->has(duration)) << duration;
    EXPECT_GE(ok->getValue<double>(duration), 0) << duration;
  }
  EXPECT_GE(ok->getValue<double>("generate_s"), 0.02) << "the pipeline's delay_ms";
  EXPECT_GE(ok->getValue<double>("total_s"), ok->getValue<double>("generate_s"));
  EXPECT_FALSE(ok->has("fallback"));

  auto fallback = access["log-fallback-2"];
  EXPECT_EQ(String(fallback, "model"), "flaky-model");
  EXPECT_EQ(String(fallback, "fallback"), "cache_emptied");

  auto bad = access["log-bad-3"];
  EXPECT_FALSE(bad->has("model")) << "refused before a model was chosen";

  // The host's own line about the failed try names the request too.
  bool retry_line = false;
  for (const auto& line : lines) {
    if (String(line, "request_id") == "log-fallback-2" && !line->has("status") &&
        String(line, "msg").find("cache_emptied") != std::string::npos) {
      retry_line = true;
    }
  }
  EXPECT_TRUE(retry_line) << "no line about the fallback of log-fallback-2";
}

TEST(LoggingTest, TextSummaryLineNamesStatusSeedsSizeStepsAndDurations) {
  Server server({});
  ASSERT_GT(server.port(), 0);
  ASSERT_EQ(server.Send("POST", kGenerations,
                        R"({"prompt":"a","size":"32x16","n":2,"steps":3,"seed":41})", "text-ok-1"),
            200);
  ASSERT_EQ(server.Send("POST", kGenerations,
                        R"({"prompt":"b","size":"16x16","model":"flaky-model","seed":5})",
                        "text-fallback-2"),
            200);
  ASSERT_EQ(server.Stop(), 0) << server.Log();
  const std::string log = server.Log();

  std::string summary, fallback;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    EXPECT_NE(line.front(), '{') << "a JSON line in text mode: " << line;
    if (line.find("[req=text-ok-1] POST") != std::string::npos) summary = line;
    if (line.find("[req=text-fallback-2] POST") != std::string::npos) fallback = line;
  }
  ASSERT_FALSE(summary.empty()) << "no summary line for text-ok-1 in:\n" << log;
  const std::regex expected(
      R"(POST /v1/images/generations -> 200 in [0-9.]+ ms model=test-model n=2 size=32x16 )"
      R"(steps=3 seeds=41,42 queue=[0-9.]+s generate=[0-9.]+s encode=[0-9.]+s save=[0-9.]+s$)");
  EXPECT_TRUE(std::regex_search(summary, expected)) << summary;
  EXPECT_NE(fallback.find("seeds=5 "), std::string::npos) << fallback;
  EXPECT_NE(fallback.find(" fallback=cache_emptied"), std::string::npos) << fallback;
}

}  // namespace
