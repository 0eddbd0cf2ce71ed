#include "checks/grpc_check.h"

#include <charconv>

#include "agent/base/strings.h"
#include "agent/base/units.h"
#include "checks/api/check_run_base.h"
#include "checks/api/http_status.h"
#include "checks/http_request.h"
#include "checks/http_run.h"

namespace gatewatch {

// ----- Pure helpers ------------------------------------------------------------------------------

std::string_view ServingStatusName(int status) {
  switch (status) {
    case 0:
      return "UNKNOWN";
    case 1:
      return "SERVING";
    case 2:
      return "NOT_SERVING";
    case 3:
      return "SERVICE_UNKNOWN";
    default:
      return "UNRECOGNIZED";
  }
}

namespace {

void AppendVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Reads a varint at *pos; false if it runs past the end or over 10 bytes.
bool ReadVarint(std::string_view s, size_t* pos, uint64_t* v) {
  *v = 0;
  for (int i = 0; i < 10; ++i) {
    if (*pos >= s.size()) return false;
    uint8_t b = static_cast<uint8_t>(s[(*pos)++]);
    *v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

}  // namespace

std::string EncodeGrpcHealthRequest(std::string_view service) {
  std::string msg;
  if (!service.empty()) {
    msg.push_back(0x0a);  // field 1, wire type 2 (length-delimited)
    AppendVarint(msg, service.size());
    msg.append(service);
  }
  std::string out;
  out.push_back(0);  // not compressed
  uint32_t n = static_cast<uint32_t>(msg.size());
  out.push_back(static_cast<char>(n >> 24));
  out.push_back(static_cast<char>(n >> 16 & 0xff));
  out.push_back(static_cast<char>(n >> 8 & 0xff));
  out.push_back(static_cast<char>(n & 0xff));
  return out + msg;
}

std::optional<int> DecodeGrpcHealthResponse(std::string_view body, std::string* error) {
  if (body.size() < 5) {
    *error = "gRPC message of " + std::to_string(body.size()) + " bytes, shorter than its prefix";
    return std::nullopt;
  }
  if (body[0] != 0) {
    *error = "compressed gRPC message (none was offered)";
    return std::nullopt;
  }
  uint32_t n = static_cast<uint32_t>(static_cast<uint8_t>(body[1])) << 24 |
               static_cast<uint32_t>(static_cast<uint8_t>(body[2])) << 16 |
               static_cast<uint32_t>(static_cast<uint8_t>(body[3])) << 8 |
               static_cast<uint8_t>(body[4]);
  if (body.size() - 5 != n) {
    *error = "gRPC message says " + std::to_string(n) + " bytes, " +
             std::to_string(body.size() - 5) + " arrived";
    return std::nullopt;
  }
  std::string_view msg = body.substr(5);
  int status = 0;
  size_t pos = 0;
  while (pos < msg.size()) {
    uint64_t key = 0;
    if (!ReadVarint(msg, &pos, &key)) {
      *error = "truncated protobuf field key";
      return std::nullopt;
    }
    uint64_t field = key >> 3;
    int wire = static_cast<int>(key & 7);
    uint64_t v = 0;
    switch (wire) {
      case 0:
        if (!ReadVarint(msg, &pos, &v)) {
          *error = "truncated protobuf varint";
          return std::nullopt;
        }
        if (field == 1) status = static_cast<int>(static_cast<int32_t>(v));
        break;
      case 1:
      case 5: {
        size_t width = wire == 1 ? 8 : 4;
        if (msg.size() - pos < width) {
          *error = "truncated protobuf fixed field";
          return std::nullopt;
        }
        pos += width;
        break;
      }
      case 2:
        if (!ReadVarint(msg, &pos, &v) || v > msg.size() - pos) {
          *error = "truncated protobuf length-delimited field";
          return std::nullopt;
        }
        pos += static_cast<size_t>(v);
        break;
      default:
        *error = "protobuf wire type " + std::to_string(wire) + " is not supported";
        return std::nullopt;
    }
  }
  return status;
}

Reason ReasonForGrpcStatus(int s) {
  switch (s) {
    case 0:
      return Reason::kNone;
    case 4:  // DEADLINE_EXCEEDED
      return Reason::kTimeout;
    case 8:   // RESOURCE_EXHAUSTED
    case 14:  // UNAVAILABLE
      return Reason::kHttp503;
    case 2:   // UNKNOWN
    case 13:  // INTERNAL
    case 15:  // DATA_LOSS
      return Reason::kHttp5xx;
    case 7:   // PERMISSION_DENIED
    case 16:  // UNAUTHENTICATED
      return Reason::kHttp4xx;
    case 12:  // UNIMPLEMENTED: no health service behind this address
      return Reason::kProtocolError;
    default:  // NOT_FOUND (unknown service), CANCELLED, INVALID_ARGUMENT, ...
      return Reason::kUnexpectedStatus;
  }
}

Reason ReasonForServingStatus(int s) {
  switch (s) {
    case 1:
      return Reason::kNone;
    case 2:  // NOT_SERVING: the server says it cannot take traffic
      return Reason::kHttp503;
    default:  // UNKNOWN, SERVICE_UNKNOWN, unrecognized
      return Reason::kUnexpectedStatus;
  }
}

// ----- Config ------------------------------------------------------------------------------------

std::shared_ptr<const GrpcCheckConfig> ParseGrpcCheckConfig(const ConfigNode& node) {
  auto cfg = std::make_shared<GrpcCheckConfig>();
  ConfigNode address = node.Required("address");
  std::optional<HostPort> hp = ParseHostPort(address.AsString(), 0);
  if (!hp || hp->port == 0) address.Fail("must be host:port (a port is required)");
  bool tls = node.BoolOr("tls", false);
  for (const char* key : {"insecure", "ca_file", "cert_file", "key_file"}) {
    if (!tls && node.Has(key)) node.Child(key).Fail("needs tls: true");
  }
  cfg->service = node.StringOr("service", "");
  auto req = std::make_shared<HttpRequest>();
  std::string host = hp->host.find(':') != std::string::npos ? "[" + hp->host + "]" : hp->host;
  std::string url = std::string(tls ? "https://" : "http://") + host + ":" +
                    std::to_string(hp->port) + "/grpc.health.v1.Health/Check";
  if (!SetRequestUrl(url, *req)) address.Fail("is not a usable host:port");
  req->method = "POST";
  req->body = EncodeGrpcHealthRequest(cfg->service);
  req->request_headers = {"Content-Type: application/grpc", "TE: trailers", "Expect:"};
  req->follow_redirects = false;
  req->max_redirects = 0;
  req->insecure = node.BoolOr("insecure", false);
  req->ca_file = node.StringOr("ca_file", "");
  req->cert_file = node.StringOr("cert_file", "");
  req->key_file = node.StringOr("key_file", "");
  req->http_version = tls ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
  req->body_limit = 4096;  // a HealthCheckResponse is a few bytes
  cfg->request = std::move(req);
  return cfg;
}

const GrpcMetrics& GrpcCheckMetrics() {
  static const GrpcMetrics* metrics = new GrpcMetrics();
  return *metrics;
}

// ----- The run -----------------------------------------------------------------------------------

namespace {

HttpRun::Target GrpcTarget(const HttpRequest& req, CheckServices& services, TimePoint deadline) {
  HttpRun::Target t;
  t.host = req.host;
  t.resolver = services.dns;
  t.resolver_label = "system resolver";
  t.keep_body = true;
  t.deadline = deadline;
  return t;
}

class GrpcCheckRun final : public CheckRunBase {
 public:
  GrpcCheckRun(std::shared_ptr<const GrpcCheckConfig> cfg, const RunContext& ctx, DoneCallback done)
      : CheckRunBase(std::move(done)),
        cfg_(std::move(cfg)),
        services_(ctx.services),
        started_(ctx.started),
        run_(cfg_->request, *services_.curl, services_.clock,
             GrpcTarget(*cfg_->request, services_, ctx.deadline), [this] { OnDone(); }) {}

  void Begin() { run_.Begin(); }

  Result Abort() override {
    run_.Abort(services_.clock.Now() - started_);
    return Describe(Result::Failure(run_.failure(), run_.failure_detail()));
  }

 private:
  void OnDone() {
    Result r = run_.failure() != Reason::kNone
                   ? Result::Failure(run_.failure(), run_.failure_detail())
                   : Evaluate(*run_.outcome());
    Finish(Describe(std::move(r)));  // `this` may be gone now
  }

  Result Evaluate(const HttpOutcome& o) {
    if (o.code != CURLE_OK) {
      auto [reason, detail] = DescribeTransportFailure(o);
      return Result::Failure(reason, std::move(detail));
    }
    const std::string& where = o.address;
    if (o.info.status != 200) {
      return Result::Failure(ReasonForHttpStatus(o.info.status),
                             "HTTP " + std::to_string(o.info.status) + " from " + where +
                                 " (a gRPC server answers 200)");
    }
    // grpc-status is a trailer, or a header of a trailers-only reply: ResponseHeaders holds both.
    std::string_view gs = o.headers.First("grpc-status");
    if (gs.empty()) {
      return Result::Failure(Reason::kProtocolError,
                             "no grpc-status from " + where + ": not a gRPC server?");
    }
    int code = -1;
    auto [end, ec] = std::from_chars(gs.data(), gs.data() + gs.size(), code);
    if (ec != std::errc() || end != gs.data() + gs.size() || code < 0 || code > 99) {
      return Result::Failure(Reason::kProtocolError,
                             "invalid grpc-status " + QuoteForDetail(gs) + " from " + where);
    }
    grpc_status_ = code;
    if (code != 0) {
      std::string message(o.headers.First("grpc-message"));
      return Result::Failure(ReasonForGrpcStatus(code),
                             "grpc-status " + std::to_string(code) + " from " + where +
                                 (message.empty() ? "" : ": " + QuoteForDetail(message)));
    }
    std::string error;
    std::optional<int> serving = DecodeGrpcHealthResponse(o.body, &error);
    if (!serving) {
      return Result::Failure(Reason::kProtocolError,
                             "bad HealthCheckResponse from " + where + ": " + error);
    }
    serving_ = *serving;
    std::string service = cfg_->service.empty() ? "the server" : "service " + cfg_->service;
    Reason reason = ReasonForServingStatus(*serving);
    std::string detail =
        service + " at " + where + " is " + std::string(ServingStatusName(*serving));
    if (reason != Reason::kNone) return Result::Failure(reason, std::move(detail));
    Result ok = Result::Success();
    ok.detail = std::move(detail);
    return ok;
  }

  Result Describe(Result r) const {
    const GrpcMetrics& m = GrpcCheckMetrics();
    r.observations.push_back({&m.serving_status, {}, static_cast<double>(serving_)});
    r.observations.push_back({&m.grpc_status, {}, static_cast<double>(grpc_status_)});
    const HttpOutcome* o = run_.outcome();
    r.report.emplace_back("url", cfg_->request->redacted_url);
    if (!cfg_->service.empty()) r.report.emplace_back("service", cfg_->service);
    r.report.emplace_back("address", o != nullptr ? o->address : "-");
    if (o != nullptr && o->info.status != 0) {
      r.report.emplace_back("http_status", std::to_string(o->info.status));
    }
    r.report.emplace_back("grpc_status", grpc_status_ >= 0 ? std::to_string(grpc_status_) : "-");
    r.report.emplace_back("serving",
                          serving_ >= 0 ? std::string(ServingStatusName(serving_)) : "-");
    if (o != nullptr && o->started) {
      r.report.emplace_back("total_ms",
                            FormatMillis(std::chrono::microseconds(o->info.times.total)));
    }
    return r;
  }

  const std::shared_ptr<const GrpcCheckConfig> cfg_;
  CheckServices& services_;
  const TimePoint started_;
  int grpc_status_ = -1;
  int serving_ = -1;
  HttpRun run_;  // last: destroyed first
};

class GrpcCheck final : public Check {
 public:
  GrpcCheck(CheckSpec spec, std::shared_ptr<const GrpcCheckConfig> cfg)
      : Check(std::move(spec)), cfg_(std::move(cfg)) {}

  std::unique_ptr<CheckRun> Start(const RunContext& ctx, DoneCallback done) const override {
    auto run = std::make_unique<GrpcCheckRun>(cfg_, ctx, std::move(done));
    run->Begin();
    return run;
  }

 private:
  std::shared_ptr<const GrpcCheckConfig> cfg_;
};

}  // namespace

CheckType GrpcCheckType() {
  const GrpcMetrics& m = GrpcCheckMetrics();
  CheckType type;
  type.name = "grpc";
  type.factory = [](const CheckSpec& spec, const ConfigNode& node) -> std::unique_ptr<Check> {
    return std::make_unique<GrpcCheck>(spec, ParseGrpcCheckConfig(node));
  };
  type.metrics = {&m.serving_status, &m.grpc_status};
  return type;
}

}  // namespace gatewatch
