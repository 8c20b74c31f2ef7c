// An in-process fluxserve on 127.0.0.1:0 built from YAML text, plus a small HTTP client.
// Each TestServer has its own temp output directory and is fully shut down on destruction.
#ifndef FLX_TESTS_HTTP_API_TEST_SERVER_H_
#define FLX_TESTS_HTTP_API_TEST_SERVER_H_

#include <Poco/JSON/Object.h>
#include <Poco/Net/NameValueCollection.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "graph_reload.h"
#include "http/http_server.h"
#include "stage_graph.h"

namespace flx::test {

struct HttpResponse {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  // The body as a JSON object (fails the current test when it is not one).
  Poco::JSON::Object::Ptr Json() const;
  // error.<field> of an OpenAI error envelope ("" when absent or null).
  std::string ErrorField(const std::string& field) const;
};

class TestServer {
 public:
  // `stages_and_models` is the YAML after `plugin_paths` (stages:, models:, observers:);
  // the build's plugin directory and a temp output_dir are filled in.
  static std::unique_ptr<TestServer> Start(const std::string& stages_and_models,
                                           ServerOptions options = {});
  ~TestServer();

  uint16_t port() const { return server_->port(); }
  HttpServer& server() { return *server_; }
  // The graph the server started with (a Reload does not change it).
  StageGraph& graph() { return *graph_; }
  // What SIGHUP does in `fluxserve serve`: the graph of the new YAML (the same shape as
  // Start's), built from the serving one, its new pipelines loaded, then served.
  Status Reload(const std::string& stages_and_models, ReloadSummary* summary = nullptr);
  const std::string& output_dir() const { return output_dir_; }

  HttpResponse Get(const std::string& path,
                   const std::map<std::string, std::string>& headers = {}) const;
  HttpResponse Post(const std::string& path, const std::string& body,
                    const std::map<std::string, std::string>& headers = {}) const;
  HttpResponse Send(const std::string& method, const std::string& path, const std::string& body,
                    const std::map<std::string, std::string>& headers) const;

  // Shuts the HTTP server down now (graceful); the destructor does it otherwise.
  void Shutdown();

 private:
  // The YAML Start and Reload read, from `stages_and_models`.
  static StatusOr<GraphConfig> Config(const std::string& stages_and_models);
  std::shared_ptr<StageGraph> graph_;
  std::unique_ptr<HttpServer> server_;
  std::string output_dir_;
  bool shut_down_ = false;
};

// The stages block most tests use: a FIFO scheduler in front of a test pipeline.
std::string QueuedTestPipeline(const std::string& scheduler_config,
                               const std::string& pipeline_config,
                               const std::string& pipeline_type = "test");

// parameters.<key> of a generation response, "" when absent.
std::string Param(const Poco::JSON::Object::Ptr& json, const std::string& key);

// fallback_reason.steps[].<field> of a generation response, in order.
std::vector<std::string> FallbackSteps(const Poco::JSON::Object::Ptr& json,
                                       const std::string& field);

// Polls `condition` every millisecond until it holds or `seconds` pass; returns whether it held.
bool WaitFor(const std::function<bool()>& condition, double seconds = 10);

}  // namespace flx::test

#endif  // FLX_TESTS_HTTP_API_TEST_SERVER_H_
