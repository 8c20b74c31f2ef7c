#include "test_server.h"

#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "config/graph_config.h"

namespace flx::test {

Poco::JSON::Object::Ptr HttpResponse::Json() const {
  try {
    Poco::JSON::Parser parser;
    auto v = parser.parse(body);
    if (v.type() == typeid(Poco::JSON::Object::Ptr)) return v.extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception&) {
  }
  ADD_FAILURE() << "response body is not a JSON object: " << body.substr(0, 500);
  return new Poco::JSON::Object;
}

std::string HttpResponse::ErrorField(const std::string& field) const {
  auto obj = Json();
  if (!obj->has("error")) return "";
  auto err = obj->getObject("error");
  if (!err || !err->has(field) || err->get(field).isEmpty()) return "";
  return err->get(field).convert<std::string>();
}

std::unique_ptr<TestServer> TestServer::Start(const std::string& stages_and_models,
                                              ServerOptions options) {
  const char* plugin_dir = std::getenv("FLX_PLUGIN_DIR");
  EXPECT_NE(plugin_dir, nullptr) << "FLX_PLUGIN_DIR is not set (run through ctest)";
  if (plugin_dir == nullptr) return nullptr;
  std::string tmpl = (std::filesystem::temp_directory_path() / "fluxserve-http-XXXXXX").string();
  char* made = ::mkdtemp(tmpl.data());
  EXPECT_NE(made, nullptr);
  auto server = std::unique_ptr<TestServer>(new TestServer);
  server->output_dir_ = tmpl;

  auto config = Config(stages_and_models);
  if (!config.ok()) return nullptr;
  Diagnostics diags;
  auto graph = StageGraph::Build(*config, /*dry_run=*/false, &diags);
  EXPECT_TRUE(graph.ok()) << diags.ToString();
  if (!graph.ok()) return nullptr;
  server->graph_ = std::move(*graph);
  server->graph_->StartPrepare();

  options.host = "127.0.0.1";
  options.port = 0;
  options.output_dir = server->output_dir_;
  server->server_ = std::make_unique<HttpServer>(server->graph_, options);
  Status started = server->server_->Start();
  EXPECT_TRUE(started.ok()) << started.ToString();
  if (!started.ok()) return nullptr;
  return server;
}

StatusOr<GraphConfig> TestServer::Config(const std::string& stages_and_models) {
  const char* plugin_dir = std::getenv("FLX_PLUGIN_DIR");
  if (plugin_dir == nullptr) return FailedPrecondition("FLX_PLUGIN_DIR is not set");
  std::string yaml = "version: 1\nplugin_paths: [\"" + std::string(plugin_dir) + "\"]\n" +
                     stages_and_models;
  Diagnostics diags;
  auto config = ParseGraphConfig(yaml, "test.yaml", Environment(), &diags);
  EXPECT_TRUE(config.ok()) << diags.ToString() << "\n" << yaml;
  return config;
}

Status TestServer::Reload(const std::string& stages_and_models, ReloadSummary* summary) {
  auto config = Config(stages_and_models);
  if (!config.ok()) return config.status();
  Diagnostics diags;
  ReloadSummary ignored;
  const std::shared_ptr<StageGraph> previous = server_->state().graph();
  auto next = PrepareReload(*previous, *config, nullptr, &diags,
                            summary != nullptr ? summary : &ignored);
  if (!next.ok()) return next.status();
  return server_->ReplaceGraph(*next);
}

void TestServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  server_->Shutdown();
}

TestServer::~TestServer() {
  if (server_) Shutdown();
  server_.reset();
  graph_.reset();
  std::error_code ec;
  std::filesystem::remove_all(output_dir_, ec);
}

HttpResponse TestServer::Get(const std::string& path,
                             const std::map<std::string, std::string>& headers) const {
  return Send("GET", path, "", headers);
}

HttpResponse TestServer::Post(const std::string& path, const std::string& body,
                              const std::map<std::string, std::string>& headers) const {
  return Send("POST", path, body, headers);
}

HttpResponse TestServer::Send(const std::string& method, const std::string& path,
                              const std::string& body,
                              const std::map<std::string, std::string>& headers) const {
  HttpResponse out;
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", server_->port());
    session.setTimeout(Poco::Timespan(120, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [k, v] : headers) request.set(k, v);
    if (method == "POST" || !body.empty()) {
      if (!request.has("Content-Type")) request.setContentType("application/json");
      request.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    std::ostream& os = session.sendRequest(request);
    os << body;
    Poco::Net::HTTPResponse response;
    std::istream& is = session.receiveResponse(response);
    Poco::StreamCopier::copyToString(is, out.body);
    out.status = int(response.getStatus());
    for (const auto& [k, v] : response) {
      std::string lower = k;
      for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
      out.headers[lower] = v;
    }
  } catch (const Poco::Exception& e) {
    ADD_FAILURE() << method << " " << path << " failed: " << e.displayText();
  }
  return out;
}

std::string QueuedTestPipeline(const std::string& scheduler_config,
                               const std::string& pipeline_config,
                               const std::string& pipeline_type) {
  return "stages:\n"
         "  - {id: queue, kind: scheduler, library: flx_scheduler, type: fifo, config: " +
         scheduler_config +
         "}\n"
         "  - {id: pipe, kind: pipeline, library: flx_test_pipeline, type: " +
         pipeline_type + ", config: " + pipeline_config +
         "}\n"
         "models:\n"
         "  test-model: [queue, pipe]\n";
}

std::string Param(const Poco::JSON::Object::Ptr& json, const std::string& key) {
  auto params = json->getObject("parameters");
  if (!params || !params->has(key)) return "";
  return params->get(key).convert<std::string>();
}

std::vector<std::string> FallbackSteps(const Poco::JSON::Object::Ptr& json,
                                       const std::string& field) {
  std::vector<std::string> values;
  auto fallback = json->getObject("fallback_reason");
  if (!fallback) return values;
  auto steps = fallback->getArray("steps");
  for (unsigned i = 0; steps && i < steps->size(); ++i) {
    values.push_back(steps->getObject(i)->getValue<std::string>(field));
  }
  return values;
}

bool WaitFor(const std::function<bool()>& condition, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return condition();
}

}  // namespace flx::test
