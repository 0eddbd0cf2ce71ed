#include "checks/dns_ns_discovery.h"

#include <ares.h>
#include <arpa/nameser.h>

#include <algorithm>

#include "agent/base/strings.h"
#include "checks/dns_answers.h"
#include "checks/http_reasons.h"

namespace gatewatch {

void NsDiscovery::Start(const std::string& name, const std::string& zone, FoundCallback found,
                        FailCallback fail) {
  name_ = name;
  zone_ = zone;
  found_ = std::move(found);
  fail_ = std::move(fail);
  if (!zone_.empty()) {
    AskNs();
    return;
  }
  query_ = resolver_().Query(
      name_, ns_t_soa,
      [this](int status, const unsigned char* reply, int len) { OnZone(status, reply, len); });
}

void NsDiscovery::OnZone(int status, const unsigned char* reply, int len) {
  query_.reset();
  QueryReply r = ReadQueryReply(status, reply, len, ns_t_soa);
  if (!r.answer || r.answer->soa_zone.empty()) {
    Reason reason = r.reason;
    if (reason == Reason::kDnsNodata || reason == Reason::kNone) reason = Reason::kDnsError;
    FailCallback fail = std::move(fail_);
    fail(reason,
         "cannot find the zone of " + name_ + ": " + (r.answer ? "no SOA in the reply" : r.error));
    return;
  }
  zone_ = r.answer->soa_zone;
  AskNs();
}

void NsDiscovery::AskNs() {
  stage_ = "finding the NS servers of the zone";
  query_ = resolver_().Query(
      zone_, ns_t_ns,
      [this](int status, const unsigned char* reply, int len) { OnNs(status, reply, len); });
}

void NsDiscovery::OnNs(int status, const unsigned char* reply, int len) {
  query_.reset();
  QueryReply r = ReadQueryReply(status, reply, len, ns_t_ns);
  if (!r.answer || r.answer->ns_names.empty()) {
    FailCallback fail = std::move(fail_);
    fail(r.reason == Reason::kNone ? Reason::kDnsError : r.reason,
         "no NS records for zone " + zone_ + ": " +
             (r.answer ? DescribeAnswer(*r.answer) : r.error));
    return;
  }
  Found found;
  found.ns_names = r.answer->ns_names;
  std::sort(found.ns_names.begin(), found.ns_names.end());
  if (found.ns_names.size() > max_servers_) {
    found.not_asked = found.ns_names.size() - max_servers_;
    found.ns_names.resize(max_servers_);
  }
  FoundCallback done = std::move(found_);
  done(std::move(found));
}

std::string NsLabel(const std::string& ns_name, size_t i) {
  return IsPlainHostname(ns_name) ? ns_name : "ns_" + std::to_string(i);
}

NsAddress PickNsAddress(const ResolveResult& r, int port) {
  NsAddress out;
  const ResolvedAddress* pick = nullptr;
  for (const auto& a : r.addresses) {
    if (pick == nullptr || (a.family == AF_INET && pick->family != AF_INET)) pick = &a;
  }
  if (pick == nullptr) {
    out.reason = r.status == ARES_SUCCESS ? Reason::kDnsNodata : ReasonForResolveStatus(r.status);
    out.error = r.status == ARES_SUCCESS ? "no addresses" : ares_strerror(r.status);
    return out;
  }
  out.address = pick->address;
  out.server = FormatHostPort(pick->address, port);
  return out;
}

}  // namespace gatewatch
