// One HTTP exchange on the loop's CurlMulti, shared by every check type that speaks HTTP (the
// "http" check, "cdn_origin", fan-out checks): the request settings are validated once at config
// load (HttpRequest), a run gives where to connect and its deadline, and the transfer delivers one
// HttpOutcome with everything curl saw. Turning an outcome into a Result (expectations, reasons,
// metrics) is the check's business; the helpers at the end of this header do the parts every
// check shares.
//
// Also declared here: the pure pieces the transfer is built from (header collection, phase
// arithmetic, certificate dates, credential scrubbing), unit-tested in tests/unit/http_*.
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/base/clock.h"
#include "agent/base/strings.h"
#include "agent/io/curl_multi.h"
#include "checks/api/check.h"

namespace gatewatch {

// What to send and how to read the answer, validated at config load. Immutable and shared by
// every run of a check (the checks keep it behind a shared_ptr<const ...>).
struct HttpRequest {
  std::string url;           // as configured: may hold credentials, give it only to curl
  std::string redacted_url;  // for details, reports and logs
  bool https = false;
  std::string host;  // URL host, without IPv6 brackets
  long port = 0;     // explicit or the scheme's default
  bool head = false;
  // Any other method than GET and HEAD is sent as written (CURLOPT_CUSTOMREQUEST); "" is GET.
  std::string method;
  // Sent with the request (Content-Length set), at most kMaxRequestBody bytes; nullopt sends none.
  std::optional<std::string> body;
  std::vector<std::string> request_headers;  // "Name: value" lines, including a Host override
  bool follow_redirects = true;
  long max_redirects = 10;
  // A redirect to another scheme, host or port (another origin): follow it without the
  // configured headers, the Host override and URL credentials, or refuse it (redirect_refused).
  enum class CrossOrigin { kDropHeaders, kRefuse };
  CrossOrigin cross_origin_redirects = CrossOrigin::kDropHeaders;
  bool allow_https_downgrade = false;  // else a redirect from https to http is refused
  bool insecure = false;
  std::string ca_file;
  std::string cert_file;                       // client certificate (PEM) for mutual TLS
  std::string key_file;                        // its key; empty: in cert_file
  long http_version = CURL_HTTP_VERSION_NONE;  // CURLOPT_HTTP_VERSION; NONE: curl's default
  uint64_t body_limit = 64 * 1024;             // more body bytes fail the transfer (body_too_large)
  // Gives up connecting after this long (a proxy's own connect timeout); 0: only the deadline.
  long connect_timeout_ms = 0;
};

// Headers of the final response. Fed every line curl's header callback sees; a new status line
// ("HTTP/...") starts over, so 1xx and redirect responses are forgotten. Stores at most
// kMaxStoredBytes of header lines (the rest are counted, not kept).
class ResponseHeaders {
 public:
  static constexpr size_t kMaxStoredBytes = 64 * 1024;

  void OnLine(std::string_view line);
  // Values of every field named `name` (case-insensitive), in order of arrival.
  std::vector<std::string_view> Values(std::string_view name) const;
  // The first value of `name`, or "" if absent.
  std::string_view First(std::string_view name) const;
  bool truncated() const { return truncated_; }
  size_t size() const { return fields_.size(); }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
  size_t stored_bytes_ = 0;
  bool truncated_ = false;
};

// libcurl's cumulative milestones in microseconds from the start of the transfer
// (CURLINFO_*_TIME_T); 0 means "not reached".
struct CurlTimesUs {
  int64_t namelookup = 0;
  int64_t connect = 0;
  int64_t appconnect = 0;
  int64_t pretransfer = 0;
  int64_t starttransfer = 0;
  int64_t total = 0;
};

struct HttpPhases {
  Duration resolve{};
  Duration connect{};
  Duration tls{};  // https only
  Duration processing{};
  Duration transfer{};
};

// Splits the milestones into phases. `own_resolve` is the c-ares time when the check resolved the
// name itself (curl's namelookup is then only a cache hit); otherwise curl's namelookup is the
// resolve phase. `tls` says whether the appconnect milestone exists. A milestone not reached ends
// where the next reached one does (or at `total`): the phase that failed or timed out gets the
// time spent in it, the phases after it get 0. Every phase is >= 0.
HttpPhases ComputePhases(const CurlTimesUs& times, bool tls, std::optional<Duration> own_resolve);

// Parses the value of curl's certinfo "Expire date" field as OpenSSL prints it
// ("Dec 24 13:00:03 2026 GMT") into Unix seconds. nullopt if it does not parse.
std::optional<int64_t> ParseCertTime(std::string_view text);

// Replaces any URL userinfo inside free text (curl's error messages) with nothing, so details
// never carry credentials.
std::string ScrubCredentials(std::string_view text);

// What a transfer learned from curl, read once at the end (or at Abort).
struct TransferInfo {
  long status = 0;
  CurlTimesUs times;
  long redirects = 0;
  long os_errno = 0;
  std::string primary_ip;
  long primary_port = 0;
  // TCP established. curl 7.88 leaves CONNECT_TIME_T at 0 until TLS is done too, but records the
  // peer address as soon as TCP connects, so a stalled handshake still counts as connected.
  bool connected = false;
  bool https = false;  // of the last request (a redirect may change scheme)
  std::optional<int64_t> cert_expiry;
  std::string effective_url;  // redacted
  long http_version = 0;      // CURLINFO_HTTP_VERSION of the last response, 0 without one
};

// Everything one transfer produced.
struct HttpOutcome {
  // CURLE_OK when a complete response arrived; CURLE_OPERATION_TIMEDOUT after Abort().
  CURLcode code = CURLE_OK;
  // curl was handed the request (false: curl could not be set up, see `setup_error`).
  bool started = false;
  bool aborted = false;     // stopped by Abort(): `info` shows how far it got
  std::string setup_error;  // non-empty when curl could not be set up (an agent problem)
  TransferInfo info;
  // Where the connection went: curl's peer after redirects, else the pinned or connect-to
  // address, else the URL's host:port.
  std::string address;
  std::string error;  // curl's error text, credentials scrubbed ("" if none)
  // Why a redirect was not followed (cross-origin with `cross_origin_redirects: refuse`, or https
  // to http): the outcome then fails with Reason::kRedirectRefused and this detail.
  std::string redirect_refused;
  ResponseHeaders headers;
  uint64_t body_bytes = 0;      // every body byte received, kept or not
  bool body_too_large = false;  // more than HttpRequest::body_limit bytes: the transfer failed
  std::string body;             // the body, when HttpTransfer::Target::keep_body
  std::optional<uint64_t> body_hash;  // FNV-1a 64 of the body, when Target::hash_body and the
                                      // whole body arrived
  // Evidence for the history: the first kEvidenceBytes of the final response's head (status line
  // and header lines as received) and of its body, raw bytes (sanitised where they leave).
  static constexpr size_t kEvidenceBytes = 512;
  std::string head_prefix;
  std::string body_prefix;
};

// One HTTP exchange. Owned by the check run that started it.
//
// Thread-safety: loop thread only (like CurlMulti).
// Lifetime: the HttpRequest (shared) and CurlMulti/Clock (the loop's services) must outlive it.
// Destroying it cancels the transfer silently: `on_done` is never called afterwards.
class HttpTransfer {
 public:
  // Where the connection goes and what to keep; everything else comes from the HttpRequest.
  struct Target {
    // A numeric address pinned for the URL's host:port (through CURLOPT_CONNECT_TO, for this run
    // only, never in curl's shared DNS cache): the answer the check's own c-ares lookup gave.
    // Empty, or equal to the URL host (an IP literal), pins nothing.
    std::string pinned_address;
    // "ip:port" or "[ip6]:port" to connect to instead of the URL's host:port (CURLOPT_CONNECT_TO):
    // the URL, Host header, SNI and certificate name checks stay those of the URL. Exclusive with
    // pinned_address.
    std::string connect_to;
    bool keep_body = false;  // keep up to body_limit bytes in HttpOutcome::body
    bool hash_body = false;  // hash the body into HttpOutcome::body_hash
    TimePoint deadline;      // curl gives up by then (CURLOPT_TIMEOUT_MS); at least 1 ms
    // One more "Name: value" header line for this run only (the probe's request id), sent like
    // the configured headers (not to another origin); empty: none.
    std::string extra_header;
  };
  // Called exactly once, on the loop thread, unless Abort() or the destructor came first. It may
  // destroy the HttpTransfer.
  using DoneCallback = std::function<void(HttpOutcome)>;

  HttpTransfer(std::shared_ptr<const HttpRequest> request, CurlMulti& curl, const Clock& clock,
               Target target, DoneCallback on_done);
  ~HttpTransfer();
  HttpTransfer(const HttpTransfer&) = delete;
  HttpTransfer& operator=(const HttpTransfer&) = delete;

  // Hands the request to curl. If curl cannot be set up, `on_done` runs before Start() returns
  // (outcome.started false, setup_error set) and may have destroyed `this`: the caller must not
  // touch the transfer after Start() unless it knows on_done has not run. Call once.
  void Start();

  // Stops the transfer now and returns how far it got (aborted, code CURLE_OPERATION_TIMEDOUT,
  // info.times.total extended to now). `on_done` is never called afterwards. On a transfer not
  // running (never started or already done) it returns an outcome with started false.
  HttpOutcome Abort();

  bool running() const { return stage_ == Stage::kRunning; }

 private:
  enum class Stage { kIdle, kRunning, kDone };
  CURLcode Configure(CURL* easy);
  void Launch();
  void OnDone(CURLcode code);
  // After a complete 3xx: starts the next hop (true) or records why not (false).
  bool FollowRedirect();
  void AddEarlierHops(TransferInfo& info) const;
  void Fail(std::string setup_error);
  std::string Address(const TransferInfo& info) const;
  static size_t OnBody(char* data, size_t size, size_t nmemb, void* userp);
  static size_t OnHeader(char* data, size_t size, size_t nitems, void* userp);

  const std::shared_ptr<const HttpRequest> request_;
  CurlMulti& curl_;
  const Clock& clock_;
  const Target target_;
  DoneCallback on_done_;
  Stage stage_ = Stage::kIdle;
  TimePoint curl_started_{};

  // The lists must outlive the easy handle's use of them: declared before it, destroyed after.
  CurlSlistPtr headers_;
  CurlSlistPtr connect_to_;  // CURLOPT_CONNECT_TO (Target::connect_to or pinned_address)
  // Redirects are followed here, not by curl (FOLLOWLOCATION off): curl 7.88 re-sends
  // CURLOPT_HTTPHEADER to any host a redirect names. One easy handle, reset for each hop.
  std::string hop_url_;        // the URL of the current hop
  bool send_headers_ = true;   // false once a hop left the configured origin
  bool as_get_ = false;        // a 301/302/303 turned the request into a GET without body
  long hops_ = 0;              // redirects followed
  CurlTimesUs earlier_times_;  // milestones of the finished hops, summed (as curl reports them)
  CurlEasyPtr easy_;
  char error_[CURL_ERROR_SIZE] = {};
  std::shared_ptr<char> alive_ = std::make_shared<char>(0);
  uint64_t hash_ = 0;
  HttpOutcome out_;
};

// ----- Shared interpretation
// ----------------------------------------------------------------------

// Reason and one-line detail for a transfer that failed at the transport level (outcome.code !=
// CURLE_OK, not aborted, body not too large): refused, unreachable, timed out, TLS, protocol.
std::pair<Reason, std::string> DescribeTransportFailure(const HttpOutcome& outcome);

// Reason and detail for a transfer stopped by Abort() after `elapsed`, from how far it got:
// connect_timeout before TCP, else timeout (TLS handshake, waiting for the response, or the body).
std::pair<Reason, std::string> DescribeAbortedTransfer(const HttpOutcome& outcome,
                                                       Duration elapsed);

}  // namespace gatewatch
