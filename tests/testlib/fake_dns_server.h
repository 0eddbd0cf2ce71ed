// An in-process DNS server on 127.0.0.x (UDP and TCP on the same port) for what dnsmasq cannot do
// on demand: answers too big for UDP (sent truncated, TC=1, then in full over TCP), thousands of
// records, malformed replies, a chosen rcode, SOA serials that differ between two "authoritative"
// servers, and never answering at all.
//
// Answers come from the records given with Add(): the records of the asked name and type; NOERROR
// without records for a known name, NXDOMAIN otherwise (with the zone's SOA in the authority
// section when one was added). Like a server without EDNS, UDP replies over 512 bytes are cut to
// the header and question with TC set.
//
// One thread, poll()-based; it stops on destruction. Thread-safety: every public method may be
// called from any thread while it serves.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/base/fd.h"

namespace gatewatch::testing {

class FakeDnsServer {
 public:
  enum class Behaviour {
    kAnswer,     // answer from the records
    kSilent,     // read queries, never answer
    kMalformed,  // a reply whose answer record runs past the end of the message
    kRcode,      // an empty reply with the rcode given to set_rcode()
  };

  // `port` 0 picks a free one (the same for UDP and TCP). Throws if it cannot bind.
  explicit FakeDnsServer(Behaviour behaviour = Behaviour::kAnswer,
                         const char* address = "127.0.0.1", int port = 0);
  ~FakeDnsServer();
  FakeDnsServer(const FakeDnsServer&) = delete;
  FakeDnsServer& operator=(const FakeDnsServer&) = delete;

  int port() const { return port_; }
  // "127.0.0.1:PORT", the form resolver lists take.
  std::string server() const;

  // Records served (class IN, TTL `ttl`). Names are case-insensitive, without trailing dot.
  void AddA(const std::string& name, const std::string& ipv4, uint32_t ttl = 300);
  void AddNs(const std::string& zone, const std::string& target, uint32_t ttl = 300);
  void AddSoa(const std::string& zone, uint32_t serial, uint32_t ttl = 300);
  void Clear();
  void set_behaviour(Behaviour b);
  void set_rcode(int rcode);

  int udp_queries() const { return udp_queries_.load(); }
  int tcp_queries() const { return tcp_queries_.load(); }

 private:
  struct Record {
    std::string name;
    int type;
    uint32_t ttl;
    std::vector<unsigned char> rdata;
  };
  void Serve();
  // The reply to `query`, or empty for no reply. `udp` applies the 512-byte limit.
  std::vector<unsigned char> Answer(const unsigned char* query, size_t len, bool udp);

  UniqueFd udp_;
  UniqueFd tcp_;
  UniqueFd wake_;
  int port_ = 0;
  std::string address_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> udp_queries_{0};
  std::atomic<int> tcp_queries_{0};
  mutable std::mutex mu_;
  Behaviour behaviour_;          // guarded by mu_
  int rcode_ = 2;                // guarded by mu_
  std::vector<Record> records_;  // guarded by mu_
};

}  // namespace gatewatch::testing
