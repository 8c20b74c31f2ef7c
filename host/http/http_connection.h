// http_connection.h — one client connection: reads requests one after another (keep-alive),
// hands each to the router's handler, and answers the ones that never reach a handler itself.
//
// Poco's own HTTPServerConnection closes the connection without a word when a header is
// malformed in a way it does not expect (a Content-Length of "abc" or 2^70), answers a bare
// "400" without a body to oversized headers, and bounds each read but not the whole request.
// This connection instead:
//   - bounds the request line and headers, as a whole, by server.header_timeout_s (408);
//   - answers every unreadable request in the OpenAI error envelope with a status that says
//     why: 400 (malformed, bad Content-Length), 414 (URI too long), 431 (header fields too
//     large or too many), 408 (too slow), and then closes the connection;
//   - writes an access-log line for each of them;
//   - drains a small unread body after the handler so the next request on the connection
//     starts at a request line (or closes the connection when the rest is large).
#ifndef FLX_HOST_HTTP_HTTP_CONNECTION_H_
#define FLX_HOST_HTTP_HTTP_CONNECTION_H_

#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/TCPServerConnectionFactory.h>

#include "http/server_state.h"

namespace flx {

// Creates an HttpConnection per accepted socket. `state` (with its ReadDeadlines) must
// outlive the factory and every connection it made.
class HttpConnectionFactory : public Poco::Net::TCPServerConnectionFactory {
 public:
  HttpConnectionFactory(ServerState* state, Poco::Net::HTTPServerParams::Ptr params,
                        Poco::Net::HTTPRequestHandlerFactory::Ptr router);
  Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& socket) override;

 private:
  ServerState* state_;
  Poco::Net::HTTPServerParams::Ptr params_;
  Poco::Net::HTTPRequestHandlerFactory::Ptr router_;
};

}  // namespace flx

#endif  // FLX_HOST_HTTP_HTTP_CONNECTION_H_
