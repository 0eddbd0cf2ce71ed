// An in-process HTTP server on 127.0.0.1 for what real servers cannot do on demand: accept and
// never answer, trickle, send an endless body, garbage, an empty reply or a reset.
//
// One thread, poll()-based, any number of connections. Everything it does is bounded: it stops on
// Stop() or destruction, and an endless body stops when the peer closes.
// Thread-safety: port() and accepted() may be called from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/base/fd.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {

class FakeHttpServer {
 public:
  enum class Behaviour {
    kOk,                // the given status with body "ok\n", Content-Length, Connection: close
    kHang,              // accept, read the request, never answer
    kTrickle,           // 200 with Content-Length 1000000, then one byte every 100 ms
    kEndless,           // 200 without length, then body bytes as fast as the peer reads
    kGarbage,           // bytes that are not HTTP, then close
    kCloseImmediately,  // read the request, close without a byte: an empty reply
    kReset,             // read the request, close with SO_LINGER 0: a TCP reset
    kRecord,            // read the whole request (Content-Length body too), keep it, answer 200
    kRaw,               // the bytes given to the raw-response constructor, then close
    kSlow,              // read the request, wait 3 s, then 200 "ok\n" and close
  };

  // `port` 0 picks a free port; a fixed one brings a stopped upstream back on its old port.
  explicit FakeHttpServer(Behaviour behaviour, int status = 200, const char* address = "127.0.0.1",
                          int port = 0);
  // kRaw: answers every request with exactly `raw_response` (status line, headers, body: any
  // bytes, such as a 200 KB header or invalid UTF-8), then closes.
  explicit FakeHttpServer(std::string raw_response);
  ~FakeHttpServer();
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  int port() const { return port_; }
  int accepted() const { return accepted_.load(); }
  // kRecord: every complete request received so far (head and body).
  std::vector<std::string> requests() const;
  // Closes every connection and the listening socket; the port then refuses connections and
  // stays reserved (no parallel test can take it) until this object is destroyed.
  void Stop();

 private:
  FakeHttpServer(Behaviour behaviour, int status, const char* address, int port, std::string raw);
  void Serve();

  Behaviour behaviour_;
  int status_;
  std::string raw_;  // kRaw
  UniqueFd listener_;
  UniqueFd wake_;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::unique_ptr<RefusingPort> reserved_;
  mutable std::mutex requests_mu_;
  std::vector<std::string> requests_;  // guarded by requests_mu_
};

}  // namespace gatewatch::testing
