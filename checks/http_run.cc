#include "checks/http_run.h"

#include <ares.h>
#include <sys/socket.h>

#include <tuple>
#include <utility>

#include "agent/base/strings.h"
#include "checks/http_reasons.h"

namespace gatewatch {

namespace {

int64_t WholeMs(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

HttpRun::HttpRun(std::shared_ptr<const HttpRequest> request, CurlMulti& curl, const Clock& clock,
                 Target target, DoneCallback on_done)
    : request_(std::move(request)),
      curl_(curl),
      clock_(clock),
      target_(std::move(target)),
      on_done_(std::move(on_done)) {}

void HttpRun::Begin() {
  if (!target_.resolve_only && DnsResolver::IsIpLiteral(target_.host)) {
    StartTransfer(target_.host);
    return;
  }
  resolve_started_ = clock_.Now();
  query_ = target_.resolver->Resolve(target_.host, AF_UNSPEC,
                                     [this](const ResolveResult& r) { OnResolved(r); });
}

void HttpRun::Abort(Duration elapsed) {
  if (finished_) return;
  finished_ = true;
  if (query_ != nullptr) {
    query_.reset();
    resolve_time_ = clock_.Now() - resolve_started_;
    failure_ = Reason::kDnsTimeout;
    failure_detail_ = "resolving " + target_.host + " timed out after " +
                      std::to_string(WholeMs(*resolve_time_)) + " ms";
    return;
  }
  if (transfer_ != nullptr) {
    outcome_ = transfer_->Abort();
    std::tie(failure_, failure_detail_) = DescribeAbortedTransfer(*outcome_, elapsed);
    return;
  }
  failure_ = Reason::kInternalError;
  failure_detail_ = "aborted before it started";
}

void HttpRun::OnResolved(const ResolveResult& r) {
  query_.reset();  // allowed from inside its callback
  resolve_time_ = r.elapsed;
  // For the probe's report: which resolver said what.
  resolved_text_ = target_.host + " via " + target_.resolver_label + ": ";
  if (r.status != ARES_SUCCESS) resolved_text_ += ares_strerror(r.status);
  for (size_t i = 0; i < r.addresses.size() && i < 8; ++i) {
    resolved_text_ += (i == 0 ? "" : " ") + r.addresses[i].address;
  }
  if (r.addresses.size() > 8) {
    resolved_text_ += " (+" + std::to_string(r.addresses.size() - 8) + ")";
  }
  Reason reason = ReasonForResolveStatus(r.status);
  if (reason == Reason::kNone && r.addresses.empty()) reason = Reason::kDnsNodata;
  if (reason != Reason::kNone) {
    std::string why = r.status == ARES_SUCCESS ? "no addresses" : ares_strerror(r.status);
    Finish(reason, "resolving " + target_.host + " failed: " + why);
    return;
  }
  if (target_.resolve_only) {
    addresses_ = r.addresses;
    Finish(Reason::kNone, "");
    return;
  }
  // c-ares sorts getaddrinfo answers by RFC 6724, so the first is the one a client would try.
  StartTransfer(r.addresses.front().address);
}

void HttpRun::StartTransfer(const std::string& address) {
  HttpTransfer::Target target;
  if (target_.connect_port != 0) {
    target.connect_to = FormatHostPort(address, target_.connect_port);
  } else {
    target.pinned_address = address;
  }
  target.keep_body = target_.keep_body;
  target.hash_body = target_.hash_body;
  target.deadline = target_.deadline;
  target.extra_header = target_.extra_header;
  transfer_ = std::make_unique<HttpTransfer>(request_, curl_, clock_, target,
                                             [this](HttpOutcome o) { OnTransferDone(o); });
  transfer_->Start();  // may finish the run (and destroy it) on a setup failure
}

void HttpRun::OnTransferDone(HttpOutcome& o) {
  outcome_ = std::move(o);
  if (!outcome_->started) {
    Finish(Reason::kInternalError, outcome_->setup_error);
    return;
  }
  Finish(Reason::kNone, "");
}

void HttpRun::Finish(Reason reason, std::string detail) {
  finished_ = true;
  failure_ = reason;
  failure_detail_ = std::move(detail);
  DoneCallback done = std::move(on_done_);
  done();  // `this` may be gone now
}

}  // namespace gatewatch
