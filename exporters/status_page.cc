#include "exporters/status_page.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "agent/base/units.h"
#include "agent/base/utf8.h"
#include "agent/base/version.h"

namespace gatewatch {
namespace {

constexpr int kRefreshSeconds = 30;

std::string FormatTime(int64_t ms) {
  return FormatUtc(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)),
                   "%Y-%m-%d %H:%M:%S UTC");
}

// "3 h 12 min", "5 min 3 s", "42 s".
std::string FormatSpan(int64_t ms) {
  int64_t s = std::max<int64_t>(ms, 0) / 1000;
  if (s >= 86400)
    return std::to_string(s / 86400) + " d " + std::to_string(s % 86400 / 3600) + " h";
  if (s >= 3600) return std::to_string(s / 3600) + " h " + std::to_string(s % 3600 / 60) + " min";
  if (s >= 60) return std::to_string(s / 60) + " min " + std::to_string(s % 60) + " s";
  return std::to_string(s) + " s";
}

// Failing first, then not run yet, then ok.
int Rank(const CheckSummary& s) {
  if (!s.has_run) return 1;
  return s.ok ? 2 : 0;
}

const char* StateClass(const CheckSummary& s) {
  if (!s.has_run) return "unknown";
  return s.ok ? "ok" : "failing";
}

const char* StateLabel(const CheckSummary& s) {
  if (!s.has_run) return "NOT RUN YET";
  return s.ok ? "OK" : "FAILING";
}

constexpr char kStyle[] = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1b1f24;line-height:1.4}
header{background:#1b1f24;color:#fff;padding:.8em 1em}
header h1{margin:0;font-size:1.3em}
header a{color:#9cd0ff}
nav{font-size:.9em;margin-top:.3em}
main{padding:.6em;max-width:60em;margin:0 auto}
.summary{margin:.3em 0 0;font-size:.95em}
.check{background:#fff;border-left:.5em solid #8a949e;border-radius:4px;margin:.6em 0;padding:.6em .8em;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.check.failing{border-left-color:#c62828}
.check.ok{border-left-color:#2e7d32}
.check h2{font-size:1.1em;margin:0;display:flex;flex-wrap:wrap;gap:.4em;align-items:center;word-break:break-all}
.check h2 a{color:inherit}
.badge{font-size:.75em;padding:.1em .5em;border-radius:3px;color:#fff;background:#8a949e;white-space:nowrap}
.failing .badge{background:#c62828}
.ok .badge{background:#2e7d32}
.type{font-size:.8em;color:#57606a;font-weight:normal}
.reason{margin:.3em 0}
.detail,.ev{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85em;white-space:pre-wrap;word-break:break-all;background:#f6f8fa;padding:.3em .5em;border-radius:3px;margin:.3em 0}
.since{font-size:.9em;color:#57606a;margin:.3em 0}
.strip{display:flex;height:.9em;gap:1px;margin:.4em 0 .1em}
.strip span{flex:1;background:#d0d7de}
.strip .s-ok{background:#2e7d32}
.strip .s-failed{background:#c62828}
.strip .s-mixed{background:#ef9a00}
.legend{font-size:.75em;color:#57606a}
table{border-collapse:collapse;width:100%;font-size:.9em}
td,th{text-align:left;padding:.25em .4em;border-bottom:1px solid #e1e4e8;vertical-align:top;word-break:break-all}
th{width:9em}
.verdict h2 .cause{font-family:ui-monospace,Menlo,Consolas,monospace}
.healthy{font-size:.95em;margin:.4em 0}
th.at{width:5em;font-family:ui-monospace,Menlo,Consolas,monospace;font-weight:normal}
@media (max-width:600px){main{padding:.3em}.check{padding:.5em}}
)";

void Head(std::string& out, const std::string& title) {
  out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";
  out += "<meta http-equiv=\"refresh\" content=\"" + std::to_string(kRefreshSeconds) + "\">";
  out += "<title>" + title + "</title><style>";
  out += kStyle;
  out += "</style></head>\n<body>\n";
}

void Nav(std::string& out) {
  out +=
      "<nav><a href=\"/\">all checks</a> · <a href=\"/metrics\">/metrics</a> · "
      "<a href=\"/api/v1/checks\">/api/v1/checks</a> · <a "
      "href=\"/api/v1/status\">/api/v1/status</a>"
      " · <a href=\"/-/healthy\">/-/healthy</a> · <a href=\"/-/ready\">/-/ready</a></nav>\n";
}

void Strip(std::string& out, const std::vector<Slot>& slots) {
  out += "<div class=\"strip\" role=\"img\" aria-label=\"availability, last hour\">";
  for (size_t i = 0; i < slots.size(); ++i) {
    const char* cls = "s-none";
    const char* what = "no run";
    switch (slots[i]) {
      case Slot::kOk:
        cls = "s-ok";
        what = "ok";
        break;
      case Slot::kFailed:
        cls = "s-failed";
        what = "failed";
        break;
      case Slot::kMixed:
        cls = "s-mixed";
        what = "some failed";
        break;
      case Slot::kNone:
        break;
    }
    int minutes_ago = static_cast<int>(slots.size() - i);
    out += "<span class=\"" + std::string(cls) + "\" title=\"" + std::to_string(minutes_ago) +
           " min ago: " + what + "\"></span>";
  }
  out +=
      "</div><div class=\"legend\">last hour, one bar a minute (green ok, red failed, amber "
      "some failed, grey no run)</div>\n";
}

void ReasonLine(std::string& out, Reason reason) {
  Cause cause = ReasonCause(reason);
  out += "<p class=\"reason\"><b>" + HtmlEscape(ReasonName(reason)) +
         "</b>: " + HtmlEscape(ReasonWords(reason)) + ". Cause: <b>" +
         HtmlEscape(CauseName(cause)) + "</b>, " + HtmlEscape(CauseWords(cause)) + ".</p>\n";
}

void Evidence(std::string& out, const RunEvidence& e) {
  if (!e.detail.empty()) out += "<div class=\"detail\">" + HtmlEscape(e.detail) + "</div>\n";
  if (e.report.empty()) return;
  out += "<table>";
  for (const auto& [key, value] : e.report) {
    out += "<tr><th>" + HtmlEscape(key, kMaxLabelValueBytes) + "</th><td><div class=\"ev\">" +
           HtmlEscape(value) + "</div></td></tr>";
  }
  out += "</table>\n";
}

// One line of evidence text: escaped, and every control byte (NUL, CR, LF, ESC from a log or a
// target) a space, so the page stays one fact a line and valid HTML. Bytes below 0x20 and 0x7f
// never occur inside a multi-byte UTF-8 character.
std::string EscapedLine(std::string_view s, size_t max_bytes = 1024) {
  std::string out = HtmlEscape(s, max_bytes);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

// The verdicts at the top of "/": what the person paged reads first.
void Services(std::string& out, const std::vector<ServiceVerdictView>& services, int64_t now_ms) {
  if (services.empty()) return;
  std::vector<const ServiceVerdictView*> sick;
  std::vector<const ServiceVerdictView*> healthy;
  for (const auto& s : services) (s.healthy ? healthy : sick).push_back(&s);
  std::stable_sort(sick.begin(), sick.end(),
                   [](const auto* a, const auto* b) { return a->service < b->service; });
  out += "<section id=\"diagnosis\" aria-label=\"diagnosis\">\n";
  for (const ServiceVerdictView* v : sick) {
    char confidence[16];
    std::snprintf(confidence, sizeof confidence, "%.2f", v->confidence);
    out += "<section class=\"check failing verdict\">\n<h2>" +
           EscapedLine(v->service, kMaxLabelValueBytes) +
           " <span class=\"badge\">VERDICT</span> <span class=\"cause\">" +
           EscapedLine(v->cause, kMaxLabelValueBytes) +
           (v->why.empty() ? "" : " (" + EscapedLine(v->why, kMaxLabelValueBytes) + ")") +
           "</span></h2>\n<p class=\"reason\">" + EscapedLine(DiagnosisCauseWords(v->cause)) +
           ".</p>\n";
    if (!v->upstreams.empty()) {
      out += "<p class=\"reason\">Upstreams: <b>";
      for (size_t i = 0; i < v->upstreams.size(); ++i)
        out += (i ? ", " : "") + EscapedLine(v->upstreams[i], kMaxLabelValueBytes);
      out += "</b></p>\n";
    }
    out += "<p class=\"since\">since " + FormatTime(v->since_ms) + " (" +
           FormatSpan(now_ms - v->since_ms) + ") · confidence " + confidence + "</p>\n";
    if (!v->evidence.empty()) {
      out += "<table>";
      for (size_t i = 0; i < v->evidence.size() && i < kMaxPageEvidence; ++i) {
        const ServiceVerdictView::Fact& f = v->evidence[i];
        // The time of day in the column (the full time on hover), then what the CLI prints:
        // the source check, its role and the fact's own line (which names its reason).
        std::string full = FormatTime(f.time_ms);
        out += "<tr><th class=\"at\" title=\"" + full + "\">" + full.substr(11, 8) +
               "</th><td><div class=\"ev\"><b>" + EscapedLine(f.check, kMaxLabelValueBytes) +
               "</b> (" + EscapedLine(f.role, kMaxLabelValueBytes) + ") " + EscapedLine(f.text) +
               "</div></td></tr>";
      }
      out += "</table>\n";
      if (v->evidence.size() > kMaxPageEvidence) {
        out += "<p class=\"legend\">" + std::to_string(v->evidence.size() - kMaxPageEvidence) +
               " more facts: <a href=\"/api/v1/diagnosis?service=" + UrlPathEscape(v->service) +
               "\">/api/v1/diagnosis</a></p>\n";
      }
    }
    out += "</section>\n";
  }
  if (!healthy.empty()) {
    out += "<p class=\"healthy\">Healthy (no verdict): ";
    for (size_t i = 0; i < healthy.size(); ++i)
      out += (i ? ", " : "") + EscapedLine(healthy[i]->service, kMaxLabelValueBytes);
    out += ".</p>\n";
  }
  out += "</section>\n";
}

}  // namespace

std::string_view DiagnosisCauseWords(std::string_view cause) {
  if (cause == "upstream_down") return CauseWords(Cause::kUpstreamDown);
  if (cause == "overloaded") return CauseWords(Cause::kOverloaded);
  if (cause == "dns") return CauseWords(Cause::kDns);
  if (cause == "network") return CauseWords(Cause::kNetwork);
  if (cause == "misconfiguration") return CauseWords(Cause::kMisconfiguration);
  if (cause == "cdn_path") return CauseWords(Cause::kCdnPath);
  if (cause == "resources") return CauseWords(Cause::kResources);
  if (cause == "agent_network") {
    return "gatewatch's own network path is broken: the targets are not to blame for these "
           "failures";
  }
  return "unknown cause";
}

std::string HtmlEscape(std::string_view s, size_t max_bytes) {
  std::string clean = SanitizeUtf8(s, max_bytes);
  std::string out;
  out.reserve(clean.size() + clean.size() / 8);
  for (char c : clean) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string UrlPathEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
        c == '_' || c == '~' || c == '-') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string_view CauseWords(Cause c) {
  switch (c) {
    case Cause::kNone:
      return "nothing wrong";
    case Cause::kUpstreamDown:
      return "the upstream is down: nothing listens, or the proxy got no valid answer";
    case Cause::kOverloaded:
      return "the upstream is overloaded: it accepts but is too slow or drops connections";
    case Cause::kDns:
      return "DNS: the name does not resolve, resolves wrong, or resolvers disagree";
    case Cause::kNetwork:
      return "the network: no route, or a firewall rejects";
    case Cause::kMisconfiguration:
      return "a configuration or deploy mistake (TLS, protocol, status, content)";
    case Cause::kCdnPath:
      return "the CDN path: edge or origin is at fault";
    case Cause::kResources:
      return "host, container or proxy limits crossed";
    case Cause::kAgent:
      return "gatewatch itself could not run the check";
  }
  return "unknown";
}

std::string_view ReasonWords(Reason r) {
  switch (r) {
    case Reason::kNone:
      return "the check passed";
    case Reason::kConnectionRefused:
      return "the connection was refused: nothing listens on the port";
    case Reason::kNoLiveUpstreams:
      return "the proxy has no live upstream left in the group";
    case Reason::kConnectTimeout:
      return "the connection was not established before the deadline";
    case Reason::kTimeout:
      return "connected, but the response did not complete before the deadline";
    case Reason::kUpstreamTimeout:
      return "the proxy timed out waiting for its upstream";
    case Reason::kConnectionReset:
      return "the peer reset or closed the connection mid-request";
    case Reason::kEmptyReply:
      return "the connection closed before any response";
    case Reason::kHostUnreachable:
      return "the host or network is unreachable";
    case Reason::kDnsNxdomain:
      return "the name does not exist";
    case Reason::kDnsNodata:
      return "the name has no record of the asked type";
    case Reason::kDnsServfail:
      return "a resolver answered SERVFAIL";
    case Reason::kDnsRefused:
      return "a resolver refused the query";
    case Reason::kDnsTimeout:
      return "no DNS answer before the deadline";
    case Reason::kDnsMalformed:
      return "the DNS reply could not be parsed";
    case Reason::kDnsNotPropagated:
      return "too few resolvers return the expected answer";
    case Reason::kDnsInconsistent:
      return "the authoritative servers disagree";
    case Reason::kDnsError:
      return "name resolution failed";
    case Reason::kTlsHandshake:
      return "the TLS handshake failed";
    case Reason::kTlsCertificate:
      return "the certificate is not trusted, expired, or for another name";
    case Reason::kProtocolError:
      return "the reply is not valid HTTP";
    case Reason::kInvalidHeader:
      return "the response headers are invalid or too big";
    case Reason::kRedirectRefused:
      return "a redirect the check's policy refuses (to http, or to another host)";
    case Reason::kRedirectLimit:
      return "too many redirects";
    case Reason::kHttp502:
      return "the response was 502 Bad Gateway";
    case Reason::kHttp503:
      return "the response was 503 Service Unavailable";
    case Reason::kHttp504:
      return "the response was 504 Gateway Timeout";
    case Reason::kHttp5xx:
      return "the response was a server error (5xx)";
    case Reason::kHttp4xx:
      return "the response was a client error (4xx)";
    case Reason::kUnexpectedStatus:
      return "the status was not one the check expects";
    case Reason::kBodyMismatch:
      return "the body did not match the expected pattern";
    case Reason::kHeaderMismatch:
      return "a response header did not match";
    case Reason::kBodyTooLarge:
      return "the body was larger than the limit";
    case Reason::kLogUnreadable:
      return "the proxy's log cannot be read";
    case Reason::kNginxConfigInvalid:
      return "nginx's configuration cannot be read";
    case Reason::kKeepaliveMismatch:
      return "an upstream closes idle connections before nginx stops reusing them";
    case Reason::kEdgeFault:
      return "the edge fails while the origin answers";
    case Reason::kOriginFault:
      return "the origin fails";
    case Reason::kBothDown:
      return "both edge and origin fail";
    case Reason::kContentMismatch:
      return "the edge serves other content than the origin";
    case Reason::kCpuSaturated:
      return "the CPU is saturated";
    case Reason::kMemoryExhausted:
      return "memory is exhausted";
    case Reason::kDiskFull:
      return "a disk is full";
    case Reason::kInodesExhausted:
      return "a filesystem has no inodes left";
    case Reason::kOomKilled:
      return "a process was killed for lack of memory";
    case Reason::kCpuThrottled:
      return "the container's CPU is throttled";
    case Reason::kWorkerConnectionsExhausted:
      return "the proxy ran out of worker_connections";
    case Reason::kFdExhausted:
      return "the proxy ran out of file descriptors";
    case Reason::kEphemeralPortsExhausted:
      return "the proxy ran out of local ports to reach its upstreams";
    case Reason::kListenQueueFull:
      return "the upstream's listen queue was full";
    case Reason::kPoolSaturated:
      return "every worker of the upstream's pool was busy (pm.max_children reached)";
    case Reason::kProxyBufferTooSmall:
      return "the proxy's buffer was too small for the upstream's response";
    case Reason::kConnectionsDropped:
      return "nginx drops connections (worker_connections exhausted)";
    case Reason::kOther:
      return "another failure";
    case Reason::kInternalError:
      return "gatewatch could not run the check";
  }
  return "unknown reason";
}

std::string RenderStatusPage(const std::vector<CheckSummary>& checks,
                             const std::map<std::string, std::vector<Slot>>& strips, int64_t now_ms,
                             const std::vector<ServiceVerdictView>& services) {
  std::vector<const CheckSummary*> order;
  order.reserve(checks.size());
  int failing = 0, ok = 0, unknown = 0;
  for (const CheckSummary& s : checks) {
    order.push_back(&s);
    (Rank(s) == 0 ? failing : Rank(s) == 1 ? unknown : ok)++;
  }
  std::stable_sort(order.begin(), order.end(), [](const CheckSummary* a, const CheckSummary* b) {
    return Rank(*a) != Rank(*b) ? Rank(*a) < Rank(*b) : a->name < b->name;
  });

  std::string out;
  out.reserve(2048 + checks.size() * 2048);
  size_t verdicts = 0;
  for (const auto& v : services) verdicts += v.healthy ? 0 : 1;
  std::string verdict_text = verdicts > 0 ? std::to_string(verdicts) +
                                                (verdicts == 1 ? " service" : " services") +
                                                " with a verdict, "
                                          : "";
  Head(out, verdicts > 0 || failing > 0
                ? "gatewatch: " + verdict_text + std::to_string(failing) + " failing"
                : "gatewatch: all ok");
  out += "<header><h1>gatewatch</h1><p class=\"summary\" id=\"summary\">" + verdict_text +
         std::to_string(failing) + " failing, " + std::to_string(ok) + " ok, " +
         std::to_string(unknown) + " not run yet · " + FormatTime(now_ms) + " · version " +
         HtmlEscape(kVersion) + "</p>";
  Nav(out);
  out += "</header>\n<main>\n";
  Services(out, services, now_ms);
  if (checks.empty()) out += "<p>No checks configured.</p>\n";
  static const std::vector<Slot> kNoRuns(kStripSlots, Slot::kNone);
  size_t ok_listed = 0;
  for (const CheckSummary* s : order) {
    if (Rank(*s) == 2 && ++ok_listed > kMaxOkListed) {
      out += "<p class=\"since\">and " + std::to_string(static_cast<size_t>(ok) - kMaxOkListed) +
             " more ok checks: <a href=\"/api/v1/checks\">/api/v1/checks</a> lists them all.</p>\n";
      break;
    }
    std::string link = "/checks/" + UrlPathEscape(s->name);
    out += "<section class=\"check " + std::string(StateClass(*s)) + "\">\n<h2><a href=\"" + link +
           "\">" + HtmlEscape(s->name, kMaxDetailBytes) + "</a> <span class=\"badge\">" +
           StateLabel(*s) + "</span> <span class=\"type\">" + HtmlEscape(s->type) +
           "</span></h2>\n";
    if (s->has_run) {
      if (!s->ok) {
        ReasonLine(out, s->reason);
        if (!s->detail.empty()) {
          out += "<div class=\"detail\">" + HtmlEscape(s->detail) + "</div>\n";
        }
      }
      out += "<p class=\"since\">" + std::string(s->ok ? "ok" : "failing") + " since " +
             FormatTime(s->since_ms) + " (" + FormatSpan(now_ms - s->since_ms) + ") · last run " +
             FormatSpan(now_ms - s->last_run_ms) + " ago · " + std::to_string(s->failures_total) +
             " of " + std::to_string(s->runs_total) + " runs failed</p>\n";
    }
    auto it = strips.find(s->name);
    Strip(out, it != strips.end() ? it->second : kNoRuns);
    out += "</section>\n";
  }
  out += "</main></body></html>\n";
  return out;
}

std::string RenderCheckPage(const CheckHistory& h, int64_t now_ms) {
  const CheckSummary& s = h.summary;
  std::string out;
  out.reserve(8192);
  Head(out, "gatewatch: " + HtmlEscape(s.name, kMaxDetailBytes) + " " + StateLabel(s));
  out += "<header><h1>gatewatch</h1>";
  Nav(out);
  out += "</header>\n<main>\n<section class=\"check " + std::string(StateClass(s)) + "\">\n<h2>" +
         HtmlEscape(s.name, kMaxDetailBytes) + " <span class=\"badge\">" + StateLabel(s) +
         "</span> <span class=\"type\">" + HtmlEscape(s.type) + "</span></h2>\n";
  if (s.has_run) {
    if (!s.ok) ReasonLine(out, s.reason);
    out += "<p class=\"since\">" + std::string(s.ok ? "ok" : "failing") + " since " +
           FormatTime(s.since_ms) + " (" + FormatSpan(now_ms - s.since_ms) + ") · " +
           std::to_string(s.failures_total) + " of " + std::to_string(s.runs_total) +
           " runs failed</p>\n";
  }
  Strip(out, AvailabilityStrip(h.runs, now_ms, kStripSpanMs, kStripSlots));
  std::string name = UrlPathEscape(s.name);
  out += "<p class=\"legend\">JSON: <a href=\"/api/v1/checks/" + name +
         "\">check</a> · <a href=\"/api/v1/checks/" + name +
         "/history\">runs</a> · <a href=\"/api/v1/checks/" + name +
         "/history?failures=1\">failures</a></p>\n</section>\n";

  if (h.last) {
    out += "<section class=\"check\"><h2>Last run</h2><p class=\"since\">" +
           FormatTime(h.last->time_ms) + " · " + (h.last->success() ? "ok" : "failed: ") +
           (h.last->success() ? "" : HtmlEscape(ReasonName(h.last->reason))) + "</p>\n";
    if (h.last->evidence != nullptr) Evidence(out, *h.last->evidence);
    out += "</section>\n";
  }

  out += "<section class=\"check\"><h2>State changes</h2>\n";
  if (h.changes.empty()) out += "<p>None yet.</p>\n";
  out += "<table><tr><th>state</th><th>from</th><th>to</th><th>for</th><th>runs</th></tr>";
  for (auto it = h.changes.rbegin(); it != h.changes.rend(); ++it) {
    out += "<tr><td>" + std::string(it->ok ? "ok" : "failing: ") +
           (it->ok ? "" : HtmlEscape(ReasonName(it->first_reason))) + "</td><td>" +
           FormatTime(it->start_ms) + "</td><td>" +
           (it->end_ms != 0 ? FormatTime(it->end_ms) : "now") + "</td><td>" +
           FormatSpan((it->end_ms != 0 ? it->end_ms : now_ms) - it->start_ms) + "</td><td>" +
           std::to_string(it->runs) + "</td></tr>";
  }
  out += "</table></section>\n";

  out += "<section class=\"check failing\"><h2>Recent failures (" +
         std::to_string(h.failures.size()) + " kept)</h2>\n";
  if (h.failures.empty()) out += "<p>No failure kept.</p>\n";
  for (auto it = h.failures.rbegin(); it != h.failures.rend(); ++it) {
    out +=
        "<h3>" + FormatTime(it->time_ms) + " · " + HtmlEscape(ReasonName(it->reason)) + "</h3>\n";
    ReasonLine(out, it->reason);
    if (it->evidence != nullptr) Evidence(out, *it->evidence);
  }
  out += "</section>\n</main></body></html>\n";
  return out;
}

}  // namespace gatewatch
