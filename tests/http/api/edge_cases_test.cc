// HTTP edge cases through raw sockets: what a client that is slow, malformed or rude sends,
// and what the server must answer (and keep serving everyone else) — each case a defect once
// found by probing the server (issue 10: D1-D8 and the minor ones).
#include <Poco/JSON/Object.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "test_server.h"

namespace flx::test {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kBody = R"({"prompt":"x","size":"16x16"})";

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A raw HTTP exchange: what the server wrote until it closed the connection (or `seconds`).
struct RawReply {
  std::string text;
  std::string status_line() const { return text.substr(0, text.find("\r\n")); }
  int status() const {
    return text.size() > 12 ? std::atoi(text.substr(9, 3).c_str()) : 0;
  }
  std::string body() const {
    auto at = text.find("\r\n\r\n");
    return at == std::string::npos ? "" : text.substr(at + 4);
  }
  bool has_header(const std::string& line) const {
    return text.find("\r\n" + line + "\r\n") != std::string::npos;
  }
};

Poco::Net::StreamSocket Connect(uint16_t port) {
  Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", port));
  socket.setReceiveTimeout(Poco::Timespan(15, 0));
  return socket;
}

// Reads until the server closes the connection or one whole response with a body of
// Content-Length bytes has arrived.
RawReply ReadReply(Poco::Net::StreamSocket& socket) {
  RawReply reply;
  char buffer[4096];
  while (true) {
    int n = 0;
    try {
      n = socket.receiveBytes(buffer, sizeof(buffer));
    } catch (const Poco::Exception&) {
      break;
    }
    if (n <= 0) break;
    reply.text.append(buffer, size_t(n));
    const auto end = reply.text.find("\r\n\r\n");
    const auto length_at = reply.text.find("Content-Length: ");
    if (end != std::string::npos && length_at != std::string::npos && length_at < end) {
      const size_t length = std::strtoul(reply.text.c_str() + length_at + 16, nullptr, 10);
      if (reply.text.size() >= end + 4 + length) break;
    }
  }
  return reply;
}

RawReply Exchange(uint16_t port, const std::string& request) {
  Poco::Net::StreamSocket socket = Connect(port);
  socket.sendBytes(request.data(), int(request.size()));
  return ReadReply(socket);
}

std::string Post(const std::string& path, const std::string& headers, const std::string& body) {
  return "POST " + path + " HTTP/1.1\r\nHost: test\r\n" + headers + "\r\n" + body;
}

// The test pipeline behind a FIFO queue, with a Prometheus observer for /metrics.
std::string WithMetrics(const std::string& pipeline) {
  return "stages:\n"
         "  - {id: queue, kind: scheduler, library: flx_scheduler, type: fifo, "
         "config: {max_concurrent: 2, max_queue: 8}}\n"
         "  - {id: pipe, kind: pipeline, library: flx_test_pipeline, type: test, config: " +
         pipeline +
         "}\n"
         "  - {id: prom, kind: metrics, library: flx_metrics, type: prometheus}\n"
         "models:\n"
         "  test-model: [queue, pipe]\n"
         "observers: [prom]\n";
}

class EdgeCases : public ::testing::Test {
 protected:
  void Start(ServerOptions options = {}, const std::string& pipeline = "{}") {
    server_ = TestServer::Start(WithMetrics(pipeline), options);
    ASSERT_NE(server_, nullptr);
    ASSERT_TRUE(WaitFor([&] { return server_->Get("/readyz").status == 200; }));
  }
  void ExpectServing() {
    auto r = server_->Post("/v1/images/generations", kBody);
    EXPECT_EQ(r.status, 200) << "the server stopped serving: " << r.body;
  }
  uint16_t port() const { return server_->port(); }
  std::unique_ptr<TestServer> server_;
};

// D1: the status line carries the status's own reason phrase, not "OK".
TEST_F(EdgeCases, StatusLinesCarryTheirReasonPhrases) {
  ServerOptions options;
  options.max_body_bytes = 64;
  options.api_keys = {"sekret"};
  Start(options);
  const std::string auth = "Authorization: Bearer sekret\r\n";
  struct Case {
    std::string request;
    const char* status_line;
  };
  const Case cases[] = {
      {Post("/v1/images/generations", auth + "Content-Length: 2\r\n", "{}"),
       "HTTP/1.1 400 Bad Request"},
      {Post("/v1/images/generations", "Content-Length: 2\r\n", "{}"), "HTTP/1.1 401 Unauthorized"},
      {"GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n", "HTTP/1.1 404 Not Found"},
      {"DELETE /healthz HTTP/1.1\r\nHost: t\r\n\r\n", "HTTP/1.1 405 Method Not Allowed"},
      {Post("/v1/images/generations", auth + "Content-Length: 100\r\n", std::string(100, 'x')),
       "HTTP/1.1 413 Request Entity Too Large"},
      {"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", "HTTP/1.1 200 OK"},
  };
  for (const Case& c : cases) {
    RawReply reply = Exchange(port(), c.request + "");
    EXPECT_EQ(reply.status_line(), c.status_line) << c.request;
  }
}

// D7: clients that trickle their headers (slowloris) are cut off at header_timeout_s with
// 408, and everybody else is served meanwhile, even with more slow clients than threads.
TEST_F(EdgeCases, SlowHeadersAreCutOffAndOthersAreServed) {
  ServerOptions options;
  options.threads = 4;
  options.header_timeout_s = 0.5;
  Start(options);
  constexpr int kSlowClients = 8;
  std::atomic<bool> stop{false};
  std::vector<RawReply> slow_replies(kSlowClients);
  std::vector<double> slow_seconds(kSlowClients);
  std::vector<std::thread> slow;
  for (int i = 0; i < kSlowClients; ++i) {
    slow.emplace_back([&, i] {
      const auto start = Clock::now();
      Poco::Net::StreamSocket socket = Connect(port());
      const std::string request = "GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Pad: " +
                                  std::string(200, 'a') + "\r\n\r\n";
      for (char c : request) {
        if (stop) break;
        try {
          socket.sendBytes(&c, 1);
        } catch (const Poco::Exception&) {
          break;  // the server closed the connection
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (SecondsSince(start) > 5) break;
      }
      slow_replies[size_t(i)] = ReadReply(socket);
      slow_seconds[size_t(i)] = SecondsSince(start);
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto start = Clock::now();
  for (int i = 0; i < 5; ++i) {
    auto r = server_->Get("/healthz");
    EXPECT_EQ(r.status, 200);
  }
  EXPECT_LT(SecondsSince(start), 4.0) << "normal requests waited behind slow clients";
  stop = true;
  for (auto& t : slow) t.join();
  for (int i = 0; i < kSlowClients; ++i) {
    EXPECT_EQ(slow_replies[size_t(i)].status(), 408) << slow_replies[size_t(i)].text;
    EXPECT_LT(slow_seconds[size_t(i)], 3.0) << "a slow client held its connection too long";
  }
  ExpectServing();
}

// A body that trickles in past body_timeout_s is 408 too.
TEST_F(EdgeCases, SlowBodyIs408) {
  ServerOptions options;
  options.body_timeout_s = 0.5;
  Start(options);
  Poco::Net::StreamSocket socket = Connect(port());
  const std::string head = Post("/v1/images/generations", "Content-Length: 100\r\n", "");
  socket.sendBytes(head.data(), int(head.size()));
  const auto start = Clock::now();
  for (int i = 0; i < 40 && SecondsSince(start) < 3; ++i) {
    try {
      socket.sendBytes("{", 1);
    } catch (const Poco::Exception&) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  RawReply reply = ReadReply(socket);
  EXPECT_EQ(reply.status(), 408) << reply.text;
  EXPECT_NE(reply.body().find("\"code\":\"request_timeout\""), std::string::npos) << reply.text;
  EXPECT_LT(SecondsSince(start), 3.0);
  ExpectServing();
}

// D3: a Content-Length that is not a length gets an enveloped 400 (it used to close the
// connection without a word).
TEST_F(EdgeCases, MalformedContentLengthIs400InTheEnvelope) {
  Start();
  for (const char* length : {"abc", "99999999999999999999", "-5", "12x"}) {
    RawReply reply = Exchange(
        port(), Post("/v1/images/generations",
                     std::string("Content-Length: ") + length + "\r\n", kBody));
    EXPECT_EQ(reply.status(), 400) << length << ": " << reply.text;
    EXPECT_NE(reply.body().find("\"code\":\"invalid_content_length\""), std::string::npos)
        << length << ": " << reply.text;
  }
  ExpectServing();
}

// D4: a POST with neither Content-Length nor chunked encoding is 411 at once, not after the
// socket timeout.
TEST_F(EdgeCases, BodyWithoutLengthIs411AtOnce) {
  Start();
  Poco::Net::StreamSocket socket = Connect(port());
  const std::string request = Post("/v1/images/generations", "", kBody);
  socket.sendBytes(request.data(), int(request.size()));
  const auto start = Clock::now();
  RawReply reply = ReadReply(socket);
  EXPECT_EQ(reply.status_line(), "HTTP/1.1 411 Length Required");
  EXPECT_NE(reply.body().find("\"code\":\"length_required\""), std::string::npos) << reply.text;
  EXPECT_LT(SecondsSince(start), 2.0);
  ExpectServing();
}

// Chunked bodies are still read.
TEST_F(EdgeCases, ChunkedBodyIsAccepted) {
  Start();
  const std::string body = kBody;
  char size[16];
  std::snprintf(size, sizeof(size), "%zx", body.size());
  RawReply reply = Exchange(port(), Post("/v1/images/generations",
                                         "Transfer-Encoding: chunked\r\nConnection: close\r\n",
                                         std::string(size) + "\r\n" + body + "\r\n0\r\n\r\n"));
  EXPECT_EQ(reply.status(), 200) << reply.text.substr(0, 300);
}

// D5: a path an observer serves answers other methods with 405 and Allow, like every route.
TEST_F(EdgeCases, WrongMethodOnObserverRouteIs405WithAllow) {
  Start();
  auto r = server_->Post("/metrics", "{}");
  EXPECT_EQ(r.status, 405) << r.body;
  EXPECT_EQ(r.headers["allow"], "GET");
  EXPECT_EQ(r.ErrorField("code"), "method_not_allowed");
  EXPECT_EQ(server_->Post("/no-such-path", "{}").status, 404);
  EXPECT_EQ(server_->Get("/metrics").status, 200);
}

// D6: during the drain new connections are refused at once, not left hanging.
TEST_F(EdgeCases, NewConnectionsAreRefusedDuringTheDrain) {
  ServerOptions options;
  options.shutdown_grace_s = 30;
  Start(options, "{delay_ms: 1500}");
  const uint16_t bound = port();
  std::thread running([&] {
    EXPECT_EQ(server_->Post("/v1/images/generations", kBody).status, 200);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::thread drain([&] { server_->Shutdown(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto start = Clock::now();
  bool refused = false;
  try {
    Poco::Net::StreamSocket socket;
    socket.connect(Poco::Net::SocketAddress("127.0.0.1", bound), Poco::Timespan(5, 0));
  } catch (const Poco::Net::ConnectionRefusedException&) {
    refused = true;
  } catch (const Poco::Exception& e) {
    ADD_FAILURE() << "expected a refused connection, got " << e.displayText();
  }
  EXPECT_TRUE(refused);
  EXPECT_LT(SecondsSince(start), 1.0);
  running.join();
  drain.join();
}

// The authentication scheme is case-insensitive (RFC 9110); the token is not.
TEST_F(EdgeCases, BearerSchemeIsCaseInsensitive) {
  ServerOptions options;
  options.api_keys = {"Sekret"};
  Start(options);
  for (const char* scheme : {"Bearer", "bearer", "BEARER"}) {
    auto r = server_->Post("/v1/images/generations", kBody,
                           {{"Authorization", std::string(scheme) + " Sekret"}});
    EXPECT_EQ(r.status, 200) << scheme << ": " << r.body;
  }
  auto wrong = server_->Post("/v1/images/generations", kBody, {{"Authorization", "bearer sekret"}});
  EXPECT_EQ(wrong.status, 401);
  auto basic = server_->Post("/v1/images/generations", kBody, {{"Authorization", "Basic Sekret"}});
  EXPECT_EQ(basic.status, 401);
}

// Oversized headers and URIs get the JSON envelope with 431 / 414, and the server goes on.
TEST_F(EdgeCases, OversizedHeadersAndUriAreEnveloped) {
  Start();
  RawReply header = Exchange(port(), "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " +
                                         std::string(20000, 'a') + "\r\n\r\n");
  EXPECT_EQ(header.status(), 431) << header.text.substr(0, 300);
  EXPECT_NE(header.body().find("\"error\":{"), std::string::npos) << header.text.substr(0, 300);
  std::string many = "GET /healthz HTTP/1.1\r\nHost: t\r\n";
  for (int i = 0; i < 200; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  RawReply count = Exchange(port(), many + "\r\n");
  EXPECT_EQ(count.status(), 431) << count.text.substr(0, 300);
  RawReply uri = Exchange(port(), "GET /" + std::string(20000, 'u') + " HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(uri.status(), 414) << uri.text.substr(0, 300);
  EXPECT_NE(uri.body().find("\"code\":\"uri_too_long\""), std::string::npos);
  RawReply garbage = Exchange(port(), "\x01\x02\x03 nonsense\r\n\r\n");
  EXPECT_EQ(garbage.status(), 400) << garbage.text.substr(0, 300);
  ExpectServing();
}

// D2: integer literals beyond 64 bits are refused by name instead of wrapping (2^64 was
// seed 0).
TEST_F(EdgeCases, SeedBeyond64BitsIsRefusedNotWrapped) {
  Start();
  for (const char* seed : {"18446744073709551616", "99999999999999999999999", "-9223372036854775809"}) {
    auto r = server_->Post("/v1/images/generations",
                           std::string(R"({"prompt":"x","size":"16x16","seed":)") + seed + "}");
    EXPECT_EQ(r.status, 400) << seed << ": " << r.body;
    EXPECT_EQ(r.ErrorField("param"), "seed") << seed;
  }
  auto max = server_->Post("/v1/images/generations",
                           R"({"prompt":"x","size":"16x16","seed":18446744073709551615})");
  ASSERT_EQ(max.status, 200) << max.body;
  EXPECT_EQ(max.Json()->getArray("data")->getObject(0)->get("seed").convert<std::string>(),
            "18446744073709551615");
  auto steps = server_->Post("/v1/images/generations",
                             R"({"prompt":"x","size":"16x16","steps":18446744073709551617})");
  EXPECT_EQ(steps.status, 400);
  EXPECT_EQ(steps.ErrorField("param"), "steps");
}

// "prompt": null is a missing prompt, said plainly.
TEST_F(EdgeCases, NullPromptIsMissing) {
  Start();
  auto r = server_->Post("/v1/images/generations", R"({"prompt":null})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.ErrorField("param"), "prompt");
  EXPECT_EQ(r.ErrorField("code"), "missing_required_parameter");
  EXPECT_EQ(r.ErrorField("message"), "'prompt' is required");
}

// parameters carries numbers as JSON numbers (it used to quote them).
TEST_F(EdgeCases, ParametersAreTypedJson) {
  Start();
  auto r = server_->Post("/v1/images/generations", R"({"prompt":"x","size":"32x16","steps":3})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto params = r.Json()->getObject("parameters");
  ASSERT_TRUE(params);
  for (const char* key : {"steps", "width", "height", "seed", "n"}) {
    ASSERT_TRUE(params->has(key)) << key;
    EXPECT_TRUE(params->get(key).isInteger()) << key << " in " << r.body.substr(0, 400);
  }
  EXPECT_EQ(params->getValue<int>("width"), 32);
}

// A POST the router answers without reading (404) leaves its body behind; the connection
// stays usable for the next request.
TEST_F(EdgeCases, UnreadBodyDoesNotPoisonKeepAlive) {
  Start();
  Poco::Net::StreamSocket socket = Connect(port());
  const std::string first = Post("/nowhere", "Content-Length: 10\r\n", "0123456789");
  const std::string second = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  socket.sendBytes(first.data(), int(first.size()));
  RawReply a = ReadReply(socket);
  EXPECT_EQ(a.status(), 404) << a.text;
  socket.sendBytes(second.data(), int(second.size()));
  RawReply b = ReadReply(socket);
  EXPECT_EQ(b.status(), 200) << b.text;
}

}  // namespace
}  // namespace flx::test
