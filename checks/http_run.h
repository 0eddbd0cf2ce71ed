// The resolve -> address -> transfer sequence every check that speaks HTTP runs (the "http"
// check, each of its fan-out backends, both sides of "cdn_origin"): look the host up on the
// loop's c-ares (unless it is numeric), connect to the first answer (RFC 6724 order) and run one
// HttpTransfer. What the answer means (expectations, verdicts) stays with the check.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/base/clock.h"
#include "agent/io/curl_multi.h"
#include "agent/io/dns_resolver.h"
#include "checks/api/reason.h"
#include "checks/http_transfer.h"

namespace gatewatch {

// Thread-safety: loop thread only. Lifetime: the request (shared), the resolver, CurlMulti and
// Clock must outlive it. Destroying it cancels whatever is in flight silently.
class HttpRun {
 public:
  struct Target {
    // The name (or numeric address) to look up and connect to: the URL host, or the host of a
    // connect-to target.
    std::string host;
    // 0: the address is pinned for the URL's host:port. Else the connection goes to
    // address:connect_port (CURLOPT_CONNECT_TO) while URL, Host and SNI stay the URL's.
    long connect_port = 0;
    DnsResolver* resolver = nullptr;  // required: the system's or a check's own
    std::string resolver_label;       // "system resolver" or "ip:port", for resolved_text()
    // Stop after the lookup and keep every address (fan-out probes each itself). Looks the host
    // up even when it is numeric.
    bool resolve_only = false;
    bool keep_body = false;
    bool hash_body = false;
    TimePoint deadline;
    std::string extra_header;  // HttpTransfer::Target::extra_header

    // Sets resolver and resolver_label (host first): `system` for a numeric host or no `servers`
    // (which asks no resolver and creates no per-server channel), else `system`'s channel for
    // `servers`, labelled `servers_label`.
    void ChooseResolver(DnsResolver& system, const std::string& servers,
                        std::string servers_label) {
      if (servers.empty() || DnsResolver::IsIpLiteral(host)) {
        resolver = &system;
        resolver_label = "system resolver";
        return;
      }
      DnsResolver::Options o;
      o.servers = servers;
      resolver = &system.ForServer(o);
      resolver_label = std::move(servers_label);
    }
  };
  // Runs once when the run finished on its own, never after Abort() or destruction. It may
  // destroy the HttpRun.
  using DoneCallback = std::function<void()>;

  HttpRun(std::shared_ptr<const HttpRequest> request, CurlMulti& curl, const Clock& clock,
          Target target, DoneCallback on_done);
  HttpRun(const HttpRun&) = delete;
  HttpRun& operator=(const HttpRun&) = delete;

  // Starts the lookup (or the transfer, for a numeric host). May call on_done before returning
  // (curl could not be set up), and `this` may then be gone. Call once.
  void Begin();

  // Stops whatever is in flight and records how far it got: dns_timeout during the lookup, else
  // DescribeAbortedTransfer(outcome, elapsed), where `elapsed` is the caller's run time so far.
  // on_done is never called afterwards. Does nothing on a finished run.
  void Abort(Duration elapsed);

  bool finished() const { return finished_; }
  // kNone when a transfer finished on its own (outcome() says how) or a resolve_only lookup
  // succeeded. Otherwise why there is no answer to judge: the lookup failed (dns_*), curl could
  // not be set up (internal_error, outcome() set) or Abort() stopped it.
  Reason failure() const { return failure_; }
  const std::string& failure_detail() const { return failure_detail_; }
  // The transfer's outcome, null if no transfer was made.
  const HttpOutcome* outcome() const { return outcome_ ? &*outcome_ : nullptr; }
  // The c-ares time when the host was looked up (also up to Abort()); nullopt for a numeric host.
  std::optional<Duration> resolve_time() const { return resolve_time_; }
  // "host via resolver: addr addr (+n)" or "host via resolver: error", once the lookup answered.
  const std::string& resolved_text() const { return resolved_text_; }
  // Every address of a resolve_only lookup.
  const std::vector<ResolvedAddress>& addresses() const { return addresses_; }

 private:
  void OnResolved(const ResolveResult& r);
  void StartTransfer(const std::string& address);
  void OnTransferDone(HttpOutcome& o);
  void Finish(Reason reason, std::string detail);

  const std::shared_ptr<const HttpRequest> request_;
  CurlMulti& curl_;
  const Clock& clock_;
  const Target target_;
  DoneCallback on_done_;

  bool finished_ = false;
  Reason failure_ = Reason::kNone;
  std::string failure_detail_;
  std::unique_ptr<DnsQuery> query_;
  TimePoint resolve_started_{};
  std::optional<Duration> resolve_time_;
  std::string resolved_text_;
  std::vector<ResolvedAddress> addresses_;
  std::unique_ptr<HttpTransfer> transfer_;
  std::optional<HttpOutcome> outcome_;
};

}  // namespace gatewatch
