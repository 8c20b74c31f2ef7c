// The HTTP front end (Poco::Net::HTTPServer): binds, routes, and shuts down gracefully.
#ifndef FLX_HOST_HTTP_HTTP_SERVER_H_
#define FLX_HOST_HTTP_HTTP_SERVER_H_

#include <memory>

#include "http/server_state.h"
#include "stage_graph.h"
#include "status.h"

#include <Poco/Net/ServerSocket.h>

namespace Poco {
class ThreadPool;
namespace Net {
class TCPServer;
}
}  // namespace Poco

namespace flx {

class SharedJobWorkers;

class HttpServer {
 public:
  // `graph` must outlive the server.
  HttpServer(StageGraph* graph, ServerOptions options);
  ~HttpServer();

  // Binds host:port and starts serving; fails when the address cannot be bound or the
  // output directory cannot be created.
  Status Start();
  // The bound port (useful with port 0).
  uint16_t port() const { return port_; }
  // Graceful stop: close the listening socket (new connections are refused at once), answer
  // new requests on open connections with 503, let running requests finish for up to
  // shutdown_grace_s, then cancel what is left and wait for it to answer.
  void Shutdown();

  ServerState& state() { return *state_; }

 private:
  std::unique_ptr<ServerState> state_;
  // With a job_queue: this replica's workers (before state_ in destruction).
  std::unique_ptr<SharedJobWorkers> shared_workers_;
  std::unique_ptr<Poco::ThreadPool> pool_;  // outlives server_
  std::unique_ptr<Poco::Net::TCPServer> server_;
  Poco::Net::ServerSocket socket_;  // the listener; closed first on shutdown
  uint16_t port_ = 0;
};

}  // namespace flx

#endif  // FLX_HOST_HTTP_HTTP_SERVER_H_
