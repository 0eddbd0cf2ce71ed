// The error vocabulary of the hop in front, with header values as proxies and CDNs send them:
// Proxy-Status (RFC 9209) parsing and its error types as Reasons, Cloudflare's 52x, RFC 9211
// fwd-status, and gatewatch's own reasons under their RFC 9209 names.
#include "checks/proxy_status.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "checks/api/proxy_status_error.h"
#include "checks/api/result.h"
#include "checks/http_expect.h"
#include "checks/http_request.h"

namespace gatewatch {
namespace {

ResponseHeaders Headers(long status, const std::vector<std::string>& lines) {
  ResponseHeaders h;
  h.OnLine("HTTP/1.1 " + std::to_string(status) + " X\r\n");
  for (const std::string& l : lines) h.OnLine(l + "\r\n");
  h.OnLine("\r\n");
  return h;
}

std::string Name(std::optional<Reason> r) { return r ? std::string(ReasonName(*r)) : "(nothing)"; }

TEST(ProxyStatusTest, ParsesMembersAndParameters) {
  struct Row {
    const char* value;
    std::vector<ProxyStatusEntry> want;
  };
  const std::vector<Row> rows = {
      // RFC 9209's own examples.
      {R"x(ExampleCDN; error=connection_refused; details="connect to 192.0.2.7:443 refused")x",
       {{"ExampleCDN", "connection_refused", "connect to 192.0.2.7:443 refused", "", "", 0}}},
      {R"x(ExampleCDN; error=dns_error; rcode=NXDOMAIN)x",
       {{"ExampleCDN", "dns_error", "", "", "NXDOMAIN", 0}}},
      {R"x(r34.example.net; error=http_response_timeout, ExampleCDN)x",
       {{"r34.example.net", "http_response_timeout", "", "", "", 0},
        {"ExampleCDN", "", "", "", "", 0}}},
      {R"x(SomeReverseProxy; error=http_protocol_error; details="Malformed response header: space before colon")x",
       {{"SomeReverseProxy", "http_protocol_error", "Malformed response header: space before colon",
         "", "", 0}}},
      // A string item, next-hop as a string and a token, received-status, an escaped quote.
      {R"x("origin proxy"; next-hop="10.0.0.5:8080"; received-status=502, edge-7; next-hop=origin.example; error=connection_timeout; details="a \"quoted\" word")x",
       {{"origin proxy", "", "", "10.0.0.5:8080", "", 502},
        {"edge-7", "connection_timeout", "a \"quoted\" word", "origin.example", "", 0}}},
      // rcode as a string, info-code ignored, upper-case keys tolerated.
      {R"x(resolver-proxy; Error=dns_error; rcode="SERVFAIL"; info-code=22)x",
       {{"resolver-proxy", "dns_error", "", "", "SERVFAIL", 0}}},
      // A comma inside details does not split the list.
      {R"x(p1; error=connection_terminated; details="reset, then closed", p2)x",
       {{"p1", "connection_terminated", "reset, then closed", "", "", 0},
        {"p2", "", "", "", "", 0}}},
      // A malformed member (unterminated string, a stray byte) is skipped; the rest still count.
      {R"x(@bad; error=x, good; error=connection_refused)x",
       {{"good", "connection_refused", "", "", "", 0}}},
      {R"x(p1; error=connection_refused; details="unterminated)x", {}},
      {R"x(p1; received-status=abc, p2; received-status=700)x",
       {{"p1", "", "", "", "", 0}, {"p2", "", "", "", "", 0}}},
      {"", {}},
      {" , ,", {}},
  };
  for (const Row& r : rows) {
    std::vector<ProxyStatusEntry> got = ParseProxyStatus(r.value);
    ASSERT_EQ(got.size(), r.want.size()) << r.value;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].proxy, r.want[i].proxy) << r.value;
      EXPECT_EQ(got[i].error, r.want[i].error) << r.value;
      EXPECT_EQ(got[i].details, r.want[i].details) << r.value;
      EXPECT_EQ(got[i].next_hop, r.want[i].next_hop) << r.value;
      EXPECT_EQ(got[i].rcode, r.want[i].rcode) << r.value;
      EXPECT_EQ(got[i].received_status, r.want[i].received_status) << r.value;
    }
  }
}

TEST(ProxyStatusTest, ListIsBounded) {
  std::string many;
  for (int i = 0; i < 1000; ++i) many += "p" + std::to_string(i) + "; error=connection_refused, ";
  EXPECT_EQ(ParseProxyStatus(many).size(), kMaxSfMembers);
  std::string params = "p";
  for (int i = 0; i < 1000; ++i) params += "; k" + std::to_string(i) + "=1";
  std::vector<SfMember> members = ParseSfList(params);
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].params.size(), kMaxSfParams);
}

TEST(ProxyStatusTest, SeveralFieldLinesFormOneList) {
  ResponseHeaders h = Headers(502, {"Proxy-Status: origin-lb; error=connection_refused",
                                    "proxy-status: ExampleCDN; received-status=502"});
  std::vector<ProxyStatusEntry> got = ProxyStatusOf(h);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].proxy, "origin-lb");
  EXPECT_EQ(got[1].received_status, 502);
}

TEST(ProxyStatusTest, ErrorTypesMapToReasons) {
  struct Row {
    const char* error;
    const char* rcode;
    std::optional<Reason> want;
  };
  const std::vector<Row> rows = {
      {"dns_timeout", "", Reason::kDnsTimeout},
      {"dns_error", "NXDOMAIN", Reason::kDnsNxdomain},
      {"dns_error", "SERVFAIL", Reason::kDnsServfail},
      {"dns_error", "REFUSED", Reason::kDnsRefused},
      {"dns_error", "NOERROR", Reason::kDnsNodata},
      {"dns_error", "FORMERR", Reason::kDnsMalformed},
      {"dns_error", "", Reason::kDnsError},
      {"destination_not_found", "", Reason::kProtocolError},
      {"destination_unavailable", "", Reason::kNoLiveUpstreams},
      {"destination_ip_prohibited", "", Reason::kHostUnreachable},
      {"destination_ip_unroutable", "", Reason::kHostUnreachable},
      {"connection_refused", "", Reason::kConnectionRefused},
      {"connection_terminated", "", Reason::kConnectionReset},
      {"connection_timeout", "", Reason::kConnectTimeout},
      {"connection_read_timeout", "", Reason::kUpstreamTimeout},
      {"connection_write_timeout", "", Reason::kUpstreamTimeout},
      {"tls_protocol_error", "", Reason::kTlsHandshake},
      {"tls_certificate_error", "", Reason::kTlsCertificate},
      {"tls_alert_received", "", Reason::kTlsHandshake},
      {"http_response_incomplete", "", Reason::kConnectionReset},
      {"http_response_header_section_size", "", Reason::kInvalidHeader},
      {"http_response_header_size", "", Reason::kInvalidHeader},
      {"http_response_body_size", "", Reason::kBodyTooLarge},
      {"http_response_trailer_section_size", "", Reason::kInvalidHeader},
      {"http_response_trailer_size", "", Reason::kInvalidHeader},
      {"http_response_transfer_coding", "", Reason::kProtocolError},
      {"http_response_content_coding", "", Reason::kProtocolError},
      {"http_response_timeout", "", Reason::kUpstreamTimeout},
      {"http_upgrade_failed", "", Reason::kProtocolError},
      {"http_protocol_error", "", Reason::kProtocolError},
      {"proxy_configuration_error", "", Reason::kProtocolError},
      {"proxy_loop_detected", "", Reason::kProtocolError},
      // Not a failure of the next hop: the status keeps its reason.
      {"http_request_error", "", std::nullopt},
      {"http_request_denied", "", std::nullopt},
      {"connection_limit_reached", "", std::nullopt},
      {"proxy_internal_response", "", std::nullopt},
      {"proxy_internal_error", "", std::nullopt},
      {"made_up_error", "", std::nullopt},
      {"", "", std::nullopt},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(Name(ReasonForProxyError(r.error, r.rcode)), Name(r.want))
        << r.error << " " << r.rcode;
  }
}

TEST(ProxyStatusTest, CloudflareCodesOnCloudflareResponsesOnly) {
  struct Row {
    long status;
    std::optional<Reason> want;
  };
  const std::vector<Row> rows = {
      {520, Reason::kEmptyReply},
      {521, Reason::kConnectionRefused},
      {522, Reason::kConnectTimeout},
      {523, Reason::kHostUnreachable},
      {524, Reason::kTimeout},
      {525, Reason::kTlsHandshake},
      {526, Reason::kTlsCertificate},
      {527, std::nullopt},
      {502, std::nullopt},
      {530, std::nullopt},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(Name(ReasonForCloudflareStatus(r.status)), Name(r.want)) << r.status;
    // Cloudflare marks its responses with CF-Ray and `Server: cloudflare`.
    auto by_ray = AttributeHopFailure(
        r.status, Headers(r.status, {"CF-RAY: 8a1b2c3d4e5f6789-AMS", "Server: nginx"}));
    auto by_server = AttributeHopFailure(r.status, Headers(r.status, {"Server: cloudflare"}));
    EXPECT_EQ(Name(by_ray ? std::optional(by_ray->reason) : std::nullopt), Name(r.want))
        << r.status;
    EXPECT_EQ(Name(by_server ? std::optional(by_server->reason) : std::nullopt), Name(r.want))
        << r.status;
    // The same code from anything else is somebody's own 52x: no Cloudflare meaning.
    EXPECT_FALSE(AttributeHopFailure(r.status, Headers(r.status, {"Server: nginx/1.22.1"})))
        << r.status;
  }
  auto a = AttributeHopFailure(521, Headers(521, {"cf-ray: 8a1b2c3d4e5f6789-AMS"}));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->hop, "cloudflare");
  EXPECT_EQ(a->source, "Cloudflare 521");
  EXPECT_EQ(a->said, "connection_refused (cf-ray 8a1b2c3d4e5f6789-AMS)");
}

TEST(ProxyStatusTest, AttributionPicksTheRootCauseAndSaysWhichHop) {
  // Nearest the origin first: origin-lb generated the 502, the CDN relayed it.
  auto a = AttributeHopFailure(
      502,
      Headers(
          502,
          {R"x(Proxy-Status: origin-lb; error=connection_refused; next-hop="10.0.0.5:8080"; details="connect() failed (111)", ExampleCDN; received-status=502)x"}));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->reason, Reason::kConnectionRefused);
  EXPECT_EQ(a->hop, "origin-lb");
  EXPECT_EQ(a->source, "Proxy-Status");
  EXPECT_EQ(a->said, R"x(connection_refused (next-hop 10.0.0.5:8080): "connect() failed (111)")x");

  // An unmapped error is passed over for the next mapped one.
  a = AttributeHopFailure(
      503, Headers(503, {"Proxy-Status: waf; error=http_request_denied, lb; error=dns_timeout"}));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->reason, Reason::kDnsTimeout);
  EXPECT_EQ(a->hop, "lb");

  // Proxy-Status wins over Cloudflare's code when both are present.
  a = AttributeHopFailure(522,
                          Headers(522, {"Server: cloudflare",
                                        "Proxy-Status: cloudflare; error=tls_certificate_error"}));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->reason, Reason::kTlsCertificate);

  // A response that was served (2xx, 3xx) is not a failure to explain, whatever a hop says.
  EXPECT_FALSE(AttributeHopFailure(
      200, Headers(200, {"Proxy-Status: cache; error=connection_refused", "Server: cloudflare"})));
  // Nothing mapped, no Cloudflare: no attribution.
  EXPECT_FALSE(AttributeHopFailure(502, Headers(502, {"Proxy-Status: lb; received-status=502"})));
  EXPECT_FALSE(AttributeHopFailure(502, Headers(502, {})));
}

TEST(ProxyStatusTest, FailedCheckCarriesTheHopsReason) {
  HttpExpectations expect;
  expect.expect_status.Add("2xx");
  HttpRequest request;
  request.redacted_url = "http://api.example/healthz";
  HttpOutcome o;
  o.started = true;
  o.address = "127.0.0.1:8080";
  o.info.status = 502;
  o.headers = Headers(
      502, {R"x(Proxy-Status: ExampleCDN; error=connection_refused; details="origin down")x"});
  Result r = EvaluateHttpOutcome(expect, request, o);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, Reason::kConnectionRefused);
  EXPECT_EQ(r.detail,
            "HTTP 502 from http://api.example/healthz (127.0.0.1:8080), expected 2xx; ExampleCDN "
            "(Proxy-Status) says connection_refused: \"origin down\"");

  // Without a hop's word the status keeps its own reason.
  o.headers = Headers(502, {"Server: nginx"});
  EXPECT_EQ(EvaluateHttpOutcome(expect, request, o).reason, Reason::kHttp502);

  // An expected status is a success even when a hop reports an error.
  HttpExpectations want_502;
  want_502.expect_status.Add("502");
  o.headers = Headers(502, {"Proxy-Status: lb; error=connection_refused"});
  EXPECT_TRUE(EvaluateHttpOutcome(want_502, request, o).success);
}

TEST(ProxyStatusTest, CacheForwardStatusIsTheCacheNearestTheOrigin) {
  struct Row {
    std::vector<std::string> lines;
    std::optional<long> want;
  };
  const std::vector<Row> rows = {
      {{"Cache-Status: ExampleCache; fwd=uri-miss; fwd-status=502"}, 502},
      {{R"x(Cache-Status: OriginCache; fwd=stale; fwd-status=304; stored, "CDN Company Here"; hit)x"},
       304},
      {{"Cache-Status: Shield; fwd=miss; fwd-status=504, Edge; fwd=miss; fwd-status=200"}, 504},
      {{"Cache-Status: Shield; hit", "Cache-Status: Edge; fwd=miss; fwd-status=503"}, 503},
      {{"Cache-Status: ExampleCache; hit"}, std::nullopt},
      {{"Cache-Status: c; fwd=miss; fwd-status=999"}, std::nullopt},
      // Lenient: a quoted status (an sf-string where RFC 9211 wants an integer) still counts.
      {{"Cache-Status: c; fwd=miss; fwd-status=\"502\""}, 502},
      {{}, std::nullopt},
  };
  for (const Row& r : rows) {
    std::optional<long> got = CacheForwardStatus(Headers(200, r.lines));
    EXPECT_EQ(got, r.want) << (r.lines.empty() ? "" : r.lines[0]);
  }
}

TEST(ProxyStatusTest, OwnReasonsUnderRfc9209Names) {
  struct Row {
    Reason reason;
    const char* want;  // nullptr: no RFC 9209 name
  };
  const std::vector<Row> rows = {
      {Reason::kNone, nullptr},
      {Reason::kConnectionRefused, "gatewatch; error=connection_refused"},
      {Reason::kConnectTimeout, "gatewatch; error=connection_timeout"},
      {Reason::kTimeout, "gatewatch; error=http_response_timeout"},
      {Reason::kConnectionReset, "gatewatch; error=connection_terminated"},
      {Reason::kEmptyReply, "gatewatch; error=http_response_incomplete"},
      {Reason::kHostUnreachable, "gatewatch; error=destination_ip_unroutable"},
      {Reason::kNoLiveUpstreams, "gatewatch; error=destination_unavailable"},
      {Reason::kDnsNxdomain, R"x(gatewatch; error=dns_error; rcode="NXDOMAIN")x"},
      {Reason::kDnsServfail, R"x(gatewatch; error=dns_error; rcode="SERVFAIL")x"},
      {Reason::kDnsTimeout, "gatewatch; error=dns_timeout"},
      {Reason::kTlsHandshake, "gatewatch; error=tls_protocol_error"},
      {Reason::kTlsCertificate, "gatewatch; error=tls_certificate_error"},
      {Reason::kProtocolError, "gatewatch; error=http_protocol_error"},
      {Reason::kBodyTooLarge, "gatewatch; error=http_response_body_size"},
      {Reason::kHttp502, nullptr},
      {Reason::kBodyMismatch, nullptr},
      {Reason::kDnsNotPropagated, nullptr},
      {Reason::kEdgeFault, nullptr},
      {Reason::kDiskFull, nullptr},
      {Reason::kInternalError, nullptr},
  };
  for (const Row& r : rows) {
    std::optional<std::string> got = ProxyStatusMember(r.reason, "");
    EXPECT_EQ(got.value_or("(none)"), r.want ? r.want : "(none)") << ReasonName(r.reason);
  }
  // Every reason that has a name maps back to itself (or, for the coarser RFC names, to a reason
  // of the same cause), so gatewatch reads what it writes.
  for (int i = 0; i < kReasonCount; ++i) {
    Reason reason = static_cast<Reason>(i);
    std::optional<ProxyStatusError> e = ProxyStatusErrorFor(reason);
    if (!e) continue;
    std::optional<Reason> back = ReasonForProxyError(e->error, e->rcode);
    ASSERT_TRUE(back) << ReasonName(reason);
    EXPECT_EQ(ReasonCause(*back), ReasonCause(reason)) << ReasonName(reason);
  }
  // Details: printable ASCII only, quotes and backslashes escaped, bounded; and it parses back.
  std::string member =
      *ProxyStatusMember(Reason::kConnectionRefused, "connect() to \"ü\\x\" refused\n");
  EXPECT_EQ(member,
            R"x(gatewatch; error=connection_refused; details="connect() to \"??\\x\" refused?")x");
  std::vector<ProxyStatusEntry> parsed = ParseProxyStatus(member);
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_EQ(parsed[0].details, "connect() to \"??\\x\" refused?");
  EXPECT_LE(ProxyStatusMember(Reason::kTimeout, std::string(10000, 'x'))->size(), 300u);
}

}  // namespace
}  // namespace gatewatch
