#include "http/http_connection.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/UUIDGenerator.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "http/api_errors.h"
#include "http/json_writer.h"
#include "logging.h"

namespace flx {
namespace {

using Poco::Net::HTTPServerRequestImpl;
using Poco::Net::HTTPServerResponseImpl;
using Poco::Net::HTTPServerSession;

// The most of an unread body drained to keep a connection alive; larger rests close it.
constexpr std::streamsize kMaxDrainBytes = 64 * 1024;

// What a MessageException from Poco's request parser means to the client.
ApiError FromMessageException(const Poco::Exception& e) {
  const std::string what = e.message();
  if (what.find("URI") != std::string::npos) {
    return ClientError(414, "uri_too_long", "the request URI is too long (" + what + ")");
  }
  if (what.find("Field") != std::string::npos || what.find("header") != std::string::npos) {
    return ClientError(431, "request_header_fields_too_large",
                           "the request's header fields are too large or too many (" + what +
                               ")");
  }
  return ClientError(400, "malformed_request", "malformed HTTP request (" + what + ")");
}

class HttpConnection : public Poco::Net::TCPServerConnection {
 public:
  HttpConnection(const Poco::Net::StreamSocket& socket, ServerState* state,
                 Poco::Net::HTTPServerParams::Ptr params,
                 Poco::Net::HTTPRequestHandlerFactory::Ptr router)
      : TCPServerConnection(socket), state_(state), params_(params), router_(router) {}

  void run() override {
    HTTPServerSession session(socket(), params_);
    try {
      while (session.hasMoreRequests() && ServeOne(session)) {
      }
    } catch (const Poco::Exception& e) {
      // The peer reset the connection or a write failed: nothing is left to answer.
      state_->logger->debug("connection closed: {}", e.displayText());
    }
  }

 private:
  int fd() { return socket().impl()->sockfd(); }

  // Reads and answers one request; false when the connection must close.
  bool ServeOne(HTTPServerSession& session) {
    const auto start = std::chrono::steady_clock::now();
    HTTPServerResponseImpl response(session);
    std::unique_ptr<HTTPServerRequestImpl> request;
    {
      ReadDeadlines::Guard headers = state_->deadlines.Arm(fd(), state_->options.header_timeout_s);
      try {
        request = std::make_unique<HTTPServerRequestImpl>(response, session, params_);
      } catch (const Poco::Net::NoMessageException&) {
        // Closed between requests: the normal end of a keep-alive connection.
        if (headers.expired()) RefuseUnread(session, start, TimedOut());
        return false;
      } catch (const Poco::Net::MessageException& e) {
        RefuseUnread(session, start, headers.expired() ? TimedOut() : FromMessageException(e));
        return false;
      } catch (const Poco::SyntaxException& e) {
        // Poco parses Content-Length while it builds the request: "abc", "-" or 2^70.
        RefuseUnread(session, start,
                     ClientError(400, "invalid_content_length",
                                     "the Content-Length header is not a valid length (" +
                                         e.message() + ")"));
        return false;
      } catch (const Poco::TimeoutException&) {
        RefuseUnread(session, start, TimedOut());
        return false;
      }
      if (headers.Disarm()) {
        RefuseUnread(session, start, TimedOut());
        return false;
      }
    }
    Answer(session, *request, response);
    return session.getKeepAlive() && DrainUnreadBody(*request);
  }

  void Answer(HTTPServerSession& session, HTTPServerRequestImpl& request,
              HTTPServerResponseImpl& response) {
    response.setDate(Poco::Timestamp());
    response.setVersion(request.getVersion());
    response.setKeepAlive(params_->getKeepAlive() && request.getKeepAlive() &&
                          session.canKeepAlive() && !state_->shutting_down.load());
    response.set("Server", params_->getServerName());
    std::unique_ptr<Poco::Net::HTTPRequestHandler> handler(router_->createRequestHandler(request));
    if (request.getExpectContinue() && response.getStatus() == Poco::Net::HTTPResponse::HTTP_OK) {
      response.sendContinue();
    }
    handler->handleRequest(request, response);
    session.setKeepAlive(params_->getKeepAlive() && response.getKeepAlive() &&
                         session.canKeepAlive());
  }

  // Reads what the handler left of a fixed-length or chunked body (a 404 to a POST, say), up
  // to kMaxDrainBytes and within body_timeout_s; false when the connection must close.
  bool DrainUnreadBody(HTTPServerRequestImpl& request) {
    const bool framed = request.hasContentLength() || request.getChunkedTransferEncoding();
    if (!framed) return request.getMethod() == "GET" || request.getMethod() == "HEAD" ||
                        request.getMethod() == "DELETE";
    ReadDeadlines::Guard body = state_->deadlines.Arm(fd(), state_->options.body_timeout_s);
    std::istream& in = request.stream();
    in.ignore(kMaxDrainBytes);
    const bool at_end = in.eof() || in.peek() == std::char_traits<char>::eof();
    return at_end && !body.Disarm();
  }

  ApiError TimedOut() {
    char message[160];
    std::snprintf(message, sizeof(message),
                  "the request line and headers did not arrive within %.3g s "
                  "(server.header_timeout_s)",
                  state_->options.header_timeout_s);
    return ClientError(408, "request_timeout", message);
  }

  // Answers a request that could not be read, closes the connection, and logs it.
  void RefuseUnread(HTTPServerSession& session, std::chrono::steady_clock::time_point start,
                    const ApiError& error) {
    const std::string request_id =
        Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
    try {
      HTTPServerResponseImpl response(session);
      response.setVersion(Poco::Net::HTTPMessage::HTTP_1_1);
      response.setKeepAlive(false);
      response.set("X-Request-Id", request_id);
      SendApiError(response, error);
    } catch (const Poco::Exception&) {
      // The client is gone (or its read side is): the log line below still records it.
    }
    session.setKeepAlive(false);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    char line[256];
    std::snprintf(line, sizeof(line), "- - -> %d in %.3f ms (%s)", error.http_status,
                  seconds * 1e3, error.code.c_str());
    JsonWriter fields;
    fields.BeginObject().Key("status").Int(error.http_status).Key("total_s").Number(seconds);
    fields.Key("error").String(error.code).Key("peer").String(PeerAddress()).EndObject();
    LogWithRequest(*state_->logger, spdlog::level::info, request_id, line + (" " + error.message),
                   fields.str());
  }

  std::string PeerAddress() {
    try {
      return socket().peerAddress().toString();
    } catch (const Poco::Exception&) {
      return "";
    }
  }

  ServerState* state_;
  Poco::Net::HTTPServerParams::Ptr params_;
  Poco::Net::HTTPRequestHandlerFactory::Ptr router_;
};

}  // namespace

HttpConnectionFactory::HttpConnectionFactory(ServerState* state,
                                             Poco::Net::HTTPServerParams::Ptr params,
                                             Poco::Net::HTTPRequestHandlerFactory::Ptr router)
    : state_(state), params_(params), router_(router) {}

Poco::Net::TCPServerConnection* HttpConnectionFactory::createConnection(
    const Poco::Net::StreamSocket& socket) {
  return new HttpConnection(socket, state_, params_, router_);
}

}  // namespace flx
