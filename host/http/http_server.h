// The HTTP front end (Poco::Net::HTTPServer): binds, routes, and shuts down gracefully.
#ifndef FLX_HOST_HTTP_HTTP_SERVER_H_
#define FLX_HOST_HTTP_HTTP_SERVER_H_

#include <memory>
#include <vector>

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
  HttpServer(std::shared_ptr<StageGraph> graph, ServerOptions options);
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

  // A reload: new requests (and, with a job_queue, this replica's claims) go to `graph` from
  // now on, whose observers take over the events; requests and jobs in flight finish on the
  // graph they started with, which goes (with the stages only it has) when the last ends.
  // Its pipeline stages that `graph` lacks read not ready on the MODEL_READY gauge.
  // FAILED_PRECONDITION, changing nothing, when `graph` has another job_queue stage.
  Status ReplaceGraph(std::shared_ptr<StageGraph> graph);

  ServerState& state() { return *state_; }

 private:
  std::unique_ptr<ServerState> state_;
  // With a job_queue: this replica's workers (before state_ in destruction).
  std::unique_ptr<SharedJobWorkers> shared_workers_;
  // Workers of graphs a reload replaced, finishing their jobs (joined at shutdown).
  std::vector<std::unique_ptr<SharedJobWorkers>> retired_workers_;
  std::unique_ptr<Poco::ThreadPool> pool_;  // outlives server_
  std::unique_ptr<Poco::Net::TCPServer> server_;
  Poco::Net::ServerSocket socket_;  // the listener; closed first on shutdown
  uint16_t port_ = 0;
};

}  // namespace flx

#endif  // FLX_HOST_HTTP_HTTP_SERVER_H_
