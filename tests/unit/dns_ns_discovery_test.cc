// The pure parts of authoritative NS discovery (checks/dns_ns_discovery.h): which address of an
// NS server is asked, and which label a name from the wire may become.
#include "checks/dns_ns_discovery.h"

#include <ares.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "checks/http_reasons.h"

namespace gatewatch {
namespace {

TEST(PickNsAddressTest, Table) {
  struct Case {
    const char* name;
    ResolveResult r;
    std::string address, server;
    Reason reason;
    std::string error;
  };
  const ResolvedAddress v4{AF_INET, "192.0.2.1", 60}, v4b{AF_INET, "192.0.2.2", 60};
  const ResolvedAddress v6{AF_INET6, "2001:db8::1", 60}, v6b{AF_INET6, "2001:db8::2", 60};
  const Case cases[] = {
      {"one v4", {ARES_SUCCESS, {v4}, {}}, "192.0.2.1", "192.0.2.1:5353", Reason::kNone, ""},
      {"v4 preferred over an earlier v6",
       {ARES_SUCCESS, {v6, v4, v4b}, {}},
       "192.0.2.1",
       "192.0.2.1:5353",
       Reason::kNone,
       ""},
      {"v6 only: the first, bracketed",
       {ARES_SUCCESS, {v6, v6b}, {}},
       "2001:db8::1",
       "[2001:db8::1]:5353",
       Reason::kNone,
       ""},
      {"success without addresses is nodata",
       {ARES_SUCCESS, {}, {}},
       "",
       "",
       Reason::kDnsNodata,
       "no addresses"},
      {"not found",
       {ARES_ENOTFOUND, {}, {}},
       "",
       "",
       ReasonForResolveStatus(ARES_ENOTFOUND),
       ares_strerror(ARES_ENOTFOUND)},
      {"timeout",
       {ARES_ETIMEOUT, {}, {}},
       "",
       "",
       Reason::kDnsTimeout,
       ares_strerror(ARES_ETIMEOUT)},
  };
  for (const Case& c : cases) {
    NsAddress a = PickNsAddress(c.r, 5353);
    EXPECT_EQ(a.address, c.address) << c.name;
    EXPECT_EQ(a.server, c.server) << c.name;
    EXPECT_EQ(a.reason, c.reason) << c.name;
    EXPECT_EQ(a.error, c.error) << c.name;
  }
}

TEST(NsLabelTest, PlainNamesOnlyElseAPlaceholder) {
  EXPECT_EQ(NsLabel("ns1.example.test", 0), "ns1.example.test");
  EXPECT_EQ(NsLabel("ns-2_x.example.test", 3), "ns-2_x.example.test");
  EXPECT_EQ(NsLabel("ns\n1.example.test", 4), "ns_4");
  EXPECT_EQ(NsLabel("n\xC3\xA9.example.test", 1), "ns_1");
  EXPECT_EQ(NsLabel("ns1.example.test.", 2), "ns_2");  // a trailing dot is not plain
  EXPECT_EQ(NsLabel("", 5), "ns_5");
}

}  // namespace
}  // namespace gatewatch
