// Tables of real replies (captured from dnsmasq 2.90 on this platform) for the pure DNS pieces:
// answer extraction, canonical records, comparison across resolvers and reason mapping.
#include "checks/dns_answers.h"

#include <ares.h>
#include <arpa/nameser.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gatewatch {
namespace {

std::vector<unsigned char> Hex(const std::string& hex) {
  std::vector<unsigned char> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<unsigned char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// dnsmasq --host-record=multi.example.test,127.0.0.{2,3,4}: three A records, in the order
// dnsmasq sent them (3, 2, 4).
const char kMultiA[] =
    "123481800001000300000000056d756c7469076578616d706c6504746573740000010001c00c000100010000025800"
    "047f000003c00c000100010000025800047f000002c00c000100010000025800047f000004";
const char kAaaa[] =
    "123481800001000100000000027636076578616d706c65047465737400001c0001c00c001c00010000025800102001"
    "0db8000000000000000000000001";
// A question answered with a CNAME only (its target has no A record).
const char kCnameOnly[] =
    "12348180000100010000000005616c696173076578616d706c6504746573740000010001c00c000500010000025800"
    "1203777777076578616d706c65047465737400";
const char kMx[] =
    "123481800001000100000000046d61696c076578616d706c65047465737400000f0001c00c000f0001000002580014"
    "00"
    "0a036d7831076578616d706c65047465737400";
// --txt-record=txt.example.test,"v=spf1 ","-all": two character-strings.
const char kTxt[] =
    "12348180000100010000000003747874076578616d706c6504746573740000100001c00c0010000100000258000d07"
    "76"
    "3d7370663120042d616c6c";
const char kSrv[] =
    "123481800001000100000000065f6874747073045f746370076578616d706c6504746573740000210001c00c002100"
    "01"
    "00000258001c000a000501bb076261636b656e64076578616d706c65047465737400";
const char kNxdomain[] = "123481830001000000000000046e6f7065076578616d706c6504746573740000010001";
const char kNodata[] = "123481800001000000000000027636076578616d706c6504746573740000010001";
// dnsmasq --auth-zone=example.test --auth-soa=2024010101,hostmaster.example.test
const char kSoa[] =
    "123485800001000100000000076578616d706c6504746573740000060001076578616d706c65047465737400000600"
    "01"
    "00000258003f036e7331076578616d706c650474657374000a686f73746d6173746572076578616d706c6504746573"
    "74"
    "0078a3f175000004b0000000b40012750000000258";
const char kCaa[] =
    "12348180000100010000000003636161076578616d706c6504746573740001010001c00c0101000100000258001600"
    "0569"
    "737375656c657473656e63727970742e6f7267";

struct ReplyRow {
  const char* name;
  const char* hex;
  int qtype;
  int rcode;
  std::vector<std::string> records;
  Reason reason;
};

TEST(ParseDnsReplyTest, RealReplies) {
  const std::vector<ReplyRow> rows = {
      {"three A", kMultiA, ns_t_a, 0, {"127.0.0.2", "127.0.0.3", "127.0.0.4"}, Reason::kNone},
      {"AAAA", kAaaa, ns_t_aaaa, 0, {"2001:db8::1"}, Reason::kNone},
      {"CNAME only for A", kCnameOnly, ns_t_a, 0, {}, Reason::kDnsNodata},
      {"CNAME asked", kCnameOnly, ns_t_cname, 0, {"www.example.test"}, Reason::kNone},
      {"MX", kMx, ns_t_mx, 0, {"10 mx1.example.test"}, Reason::kNone},
      {"TXT strings joined", kTxt, ns_t_txt, 0, {"v=spf1 -all"}, Reason::kNone},
      {"SRV", kSrv, ns_t_srv, 0, {"10 5 443 backend.example.test"}, Reason::kNone},
      {"NXDOMAIN", kNxdomain, ns_t_a, 3, {}, Reason::kDnsNxdomain},
      {"NODATA", kNodata, ns_t_a, 0, {}, Reason::kDnsNodata},
      {"SOA",
       kSoa,
       ns_t_soa,
       0,
       {"ns1.example.test hostmaster.example.test 2024010101 1200 180 1209600 600"},
       Reason::kNone},
      {"CAA", kCaa, 257, 0, {"0 issue letsencrypt.org"}, Reason::kNone},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.name);
    auto bytes = Hex(row.hex);
    std::string error;
    auto set = ParseDnsReply(bytes.data(), bytes.size(), row.qtype, &error);
    ASSERT_TRUE(set.has_value()) << error;
    EXPECT_EQ(set->rcode, row.rcode);
    EXPECT_EQ(set->records, row.records);
    EXPECT_EQ(set->count, row.records.size());
    EXPECT_FALSE(set->capped);
    EXPECT_EQ(ReasonForRcode(set->rcode, set->count), row.reason);
    if (!row.records.empty()) {
      EXPECT_EQ(set->min_ttl, 600u);
    }
  }
}

TEST(ParseDnsReplyTest, SoaSerialAndZone) {
  auto bytes = Hex(kSoa);
  auto set = ParseDnsReply(bytes.data(), bytes.size(), ns_t_soa, nullptr);
  ASSERT_TRUE(set);
  EXPECT_EQ(set->soa_serial, 2024010101u);
  EXPECT_EQ(set->soa_zone, "example.test");
  EXPECT_TRUE(set->authoritative);
}

TEST(ParseDnsReplyTest, MalformedRepliesFailWithoutReadingPastTheEnd) {
  auto good = Hex(kMultiA);
  std::vector<std::pair<std::string, std::vector<unsigned char>>> bad;
  bad.push_back({"empty", {}});
  bad.push_back({"short header", std::vector<unsigned char>(good.begin(), good.begin() + 11)});
  // Every truncation inside the records must fail, not crash (ASan watches the reads).
  for (size_t cut = 40; cut < good.size(); cut += 7) {
    bad.push_back({"cut at " + std::to_string(cut),
                   std::vector<unsigned char>(good.begin(), good.begin() + cut)});
  }
  auto query = good;
  query[2] &= 0x7F;  // QR clear: a question, not a reply
  bad.push_back({"not a response", query});
  auto loop = good;
  // The first answer's owner pointer (c00c) pointed at itself: a compression loop.
  size_t owner = 12 + 20 + 4;
  loop[owner] = 0xC0;
  loop[owner + 1] = static_cast<unsigned char>(owner);
  bad.push_back({"pointer loop", loop});
  auto rdlen = good;
  rdlen[owner + 10] = 0x00;
  rdlen[owner + 11] = 0x05;  // an A record with 5 bytes of data
  bad.push_back({"A with 5 bytes", rdlen});
  for (const auto& [name, bytes] : bad) {
    std::string error;
    EXPECT_FALSE(ParseDnsReply(bytes.data(), bytes.size(), ns_t_a, &error).has_value()) << name;
    EXPECT_FALSE(error.empty()) << name;
  }
}

// A reply far above the storage cap: counted and hashed, not kept; two such replies with the same
// records in another order are the same answer.
TEST(ParseDnsReplyTest, HugeAnswerIsCountedAndHashedNotKept) {
  auto build = [](bool reversed) {
    std::vector<unsigned char> m =
        Hex("abcd81800001"
            "0fa0"
            "00000000"
            "0362696704746573740000010001");
    for (int k = 0; k < 4000; ++k) {
      int i = reversed ? 3999 - k : k;
      unsigned char rr[] = {0xC0,
                            0x0C,
                            0,
                            1,
                            0,
                            1,
                            0,
                            0,
                            0,
                            60,
                            0,
                            4,
                            10,
                            static_cast<unsigned char>(i >> 8),
                            static_cast<unsigned char>(i),
                            1};
      m.insert(m.end(), rr, rr + sizeof rr);
    }
    return m;
  };
  auto a = build(false), b = build(true);
  auto sa = ParseDnsReply(a.data(), a.size(), ns_t_a, nullptr);
  auto sb = ParseDnsReply(b.data(), b.size(), ns_t_a, nullptr);
  ASSERT_TRUE(sa && sb);
  EXPECT_EQ(sa->count, 4000u);
  EXPECT_TRUE(sa->capped);
  EXPECT_TRUE(sa->records.empty());
  EXPECT_TRUE(SameAnswer(*sa, *sb));
  EXPECT_NE(DescribeAnswer(*sa).find("4000 records"), std::string::npos);
  b[b.size() - 1] = 2;  // one address differs
  auto sc = ParseDnsReply(b.data(), b.size(), ns_t_a, nullptr);
  EXPECT_FALSE(SameAnswer(*sa, *sc));
}

TEST(CanonicalRecordTest, Table) {
  struct Row {
    int type;
    const char* in;
    const char* want;  // nullptr: invalid
  };
  const std::vector<Row> rows = {
      {ns_t_a, "203.0.113.10", "203.0.113.10"},
      {ns_t_a, "203.0.113", nullptr},
      {ns_t_a, "2001:db8::1", nullptr},
      {ns_t_aaaa, "2001:DB8:0::1", "2001:db8::1"},
      {ns_t_cname, "WWW.Example.COM.", "www.example.com"},
      {ns_t_mx, "10 Mail.example.com", "10 mail.example.com"},
      {ns_t_mx, "mail.example.com", nullptr},
      {ns_t_srv, "10 5 443 backend.example.test.", "10 5 443 backend.example.test"},
      {ns_t_srv, "10 5 70000 x", nullptr},
      {ns_t_txt, "v=spf1 -all", "v=spf1 -all"},
      {257, "0 issue \"letsencrypt.org\"", "0 issue letsencrypt.org"},
      {ns_t_soa, "ns1.example.test. hostmaster.example.test. 2024010101 1200 180 1209600 600",
       "ns1.example.test hostmaster.example.test 2024010101 1200 180 1209600 600"},
      {ns_t_soa, "ns1 host 1 2 3", nullptr},
  };
  for (const auto& row : rows) {
    auto got = CanonicalRecord(row.type, row.in);
    if (row.want == nullptr) {
      EXPECT_FALSE(got.has_value()) << row.in;
    } else {
      EXPECT_EQ(got.value_or("<invalid>"), row.want) << row.in;
    }
  }
  EXPECT_EQ(ParseDnsType("aaaa"), ns_t_aaaa);
  EXPECT_EQ(ParseDnsType("caa"), 257);
  EXPECT_FALSE(ParseDnsType("ANY"));
  EXPECT_EQ(DnsTypeName(ns_t_mx), "MX");
}

TEST(ExpectedAnswerSetTest, MatchesTheReplyWithThoseRecords) {
  auto bytes = Hex(kMultiA);
  auto set = ParseDnsReply(bytes.data(), bytes.size(), ns_t_a, nullptr);
  EXPECT_TRUE(SameAnswer(*set, ExpectedAnswerSet({"127.0.0.4", "127.0.0.2", "127.0.0.3"})));
  EXPECT_FALSE(SameAnswer(*set, ExpectedAnswerSet({"127.0.0.2", "127.0.0.3"})));
}

// A server that repeats a record (found by dns_reply_fuzz): the RRset is a set, so the reply
// counts it once and still matches `expect` and a resolver that sent it once.
TEST(ExpectedAnswerSetTest, ARepeatedRecordCountsOnce) {
  // kMultiA with its three answers 127.0.0.3, 127.0.0.3, 127.0.0.4 (the second one repeated).
  const char kRepeated[] =
      "123481800001000300000000056d756c7469076578616d706c6504746573740000010001c00c00010001000002"
      "5800047f000003c00c000100010000025800047f000003c00c000100010000025800047f000004";
  auto bytes = Hex(kRepeated);
  auto set = ParseDnsReply(bytes.data(), bytes.size(), ns_t_a, nullptr);
  ASSERT_TRUE(set.has_value());
  EXPECT_EQ(set->count, 2u);
  EXPECT_EQ(set->records, (std::vector<std::string>{"127.0.0.3", "127.0.0.4"}));
  EXPECT_TRUE(SameAnswer(*set, ExpectedAnswerSet({"127.0.0.4", "127.0.0.3"})));
}

TEST(ReasonMappingTest, StatusesAndRcodes) {
  EXPECT_EQ(ReasonForQueryStatus(ARES_ETIMEOUT), Reason::kDnsTimeout);
  EXPECT_EQ(ReasonForQueryStatus(ARES_EBADRESP), Reason::kDnsMalformed);
  EXPECT_EQ(ReasonForQueryStatus(ARES_ECONNREFUSED), Reason::kDnsError);
  EXPECT_EQ(ReasonForRcode(ns_r_servfail, 0), Reason::kDnsServfail);
  EXPECT_EQ(ReasonForRcode(ns_r_refused, 0), Reason::kDnsRefused);
  EXPECT_EQ(ReasonForRcode(ns_r_formerr, 0), Reason::kDnsError);
  EXPECT_EQ(RcodeLabel(-1), "none");
  EXPECT_EQ(RcodeLabel(ns_r_nxdomain), "NXDOMAIN");
  EXPECT_EQ(RcodeLabel(9), "other");
}

TEST(ReadQueryReplyTest, ReplyOrWhyNot) {
  QueryReply timeout = ReadQueryReply(ARES_ETIMEOUT, nullptr, 0, ns_t_a);
  EXPECT_EQ(timeout.reason, Reason::kDnsTimeout);
  EXPECT_EQ(timeout.rcode, -1);
  EXPECT_FALSE(timeout.answer);
  EXPECT_FALSE(timeout.error.empty());

  auto servfail = Hex(kNxdomain);
  servfail[3] = (servfail[3] & 0xF0) | ns_r_servfail;
  QueryReply s = ReadQueryReply(ARES_ESERVFAIL, servfail.data(), servfail.size(), ns_t_a);
  EXPECT_EQ(s.reason, Reason::kDnsServfail);
  EXPECT_EQ(s.rcode, ns_r_servfail);
  ASSERT_TRUE(s.answer);

  auto cut = Hex(kMultiA);
  cut.resize(cut.size() - 2);
  QueryReply m = ReadQueryReply(ARES_SUCCESS, cut.data(), static_cast<int>(cut.size()), ns_t_a);
  EXPECT_EQ(m.reason, Reason::kDnsMalformed);
  EXPECT_EQ(m.rcode, 0) << "the header was readable";
  EXPECT_NE(m.error.find("malformed reply"), std::string::npos);

  auto ok = Hex(kMultiA);
  EXPECT_EQ(ReadQueryReply(ARES_SUCCESS, ok.data(), static_cast<int>(ok.size()), ns_t_a).reason,
            Reason::kNone);
}

// ----- Comparison across resolvers ---------------------------------------------------------------

ResolverOutcome Positive(std::vector<std::string> records) {
  ResolverOutcome o;
  o.reason = Reason::kNone;
  o.answer = ExpectedAnswerSet(records);
  return o;
}
ResolverOutcome Rcode(int rcode) {
  ResolverOutcome o;
  o.answer = DnsAnswerSet{};
  o.answer->rcode = rcode;
  o.reason = ReasonForRcode(rcode, 0);
  return o;
}
ResolverOutcome NoReply(Reason r) {
  ResolverOutcome o;
  o.reason = r;
  return o;
}

// NS names come from the wire, where a label may hold any byte: only plain hostnames may become
// a `resolver` label value (the check labels the others by their address).
std::string Labels63x3() {
  std::string l(63, 'a');
  return l + "." + l + "." + l;
}

TEST(IsPlainHostnameTest, Table) {
  const std::vector<std::pair<std::string, bool>> rows = {
      {"ns1.example.com", true},
      {"a.iana-servers.net", true},
      {"_dns.resolver.arpa", true},
      {"NS1.EXAMPLE.COM", true},
      {"", false},
      {".", false},
      {"a..b", false},
      {"ns1.example.com.", false},                   // the parser never keeps the root dot
      {"ns1.ex\xc3\xa4mple.com", false},             // UTF-8 "ä"
      {"ns\xff.example.com", false},                 // not UTF-8 at all
      {std::string("ns\0.example.com", 14), false},  // NUL inside
      {"ns\n1.example.com", false},                  // control byte
      {"ns\"1.example.com", false},                  // would need escaping in /metrics
      {"ns 1.example.com", false},
      {std::string(63, 'a') + ".com", true},
      {std::string(64, 'a') + ".com", false},              // label over 63
      {Labels63x3() + "." + std::string(61, 'a'), true},   // 253 characters
      {Labels63x3() + "." + std::string(62, 'a'), false},  // 254 characters
  };
  for (const auto& [name, plain] : rows) EXPECT_EQ(IsPlainHostname(name), plain) << name;
}

TEST(CompareOutcomesTest, Table) {
  const auto fresh = Positive({"10.0.0.2"});
  const auto stale = Positive({"10.0.0.1"});
  struct Row {
    const char* name;
    std::vector<ResolverOutcome> outcomes;
    std::optional<DnsAnswerSet> expect;
    double min_ratio;
    Reason reason;
    double ratio;
    int reference;
  };
  const std::vector<Row> rows = {
      {"all agree", {fresh, fresh, fresh}, std::nullopt, 1.0, Reason::kNone, 1.0, 0},
      {"two new one stale",
       {stale, fresh, fresh},
       std::nullopt,
       1.0,
       Reason::kDnsNotPropagated,
       2.0 / 3,
       1},
      {"two of three enough", {stale, fresh, fresh}, std::nullopt, 0.6, Reason::kNone, 2.0 / 3, 1},
      {"expect matches the minority",
       {stale, stale, fresh},
       ExpectedAnswerSet({"10.0.0.2"}),
       1.0,
       Reason::kDnsNotPropagated,
       1.0 / 3,
       -1},
      {"expect met by all",
       {fresh, fresh},
       ExpectedAnswerSet({"10.0.0.2"}),
       1.0,
       Reason::kNone,
       1.0,
       -1},
      {"stale negative cache",
       {Rcode(ns_r_nxdomain), fresh, fresh},
       std::nullopt,
       1.0,
       Reason::kDnsNotPropagated,
       2.0 / 3,
       1},
      {"all NXDOMAIN",
       {Rcode(ns_r_nxdomain), Rcode(ns_r_nxdomain)},
       std::nullopt,
       1.0,
       Reason::kDnsNxdomain,
       0,
       -1},
      {"all NXDOMAIN with expect",
       {Rcode(ns_r_nxdomain)},
       ExpectedAnswerSet({"10.0.0.2"}),
       1.0,
       Reason::kDnsNxdomain,
       0,
       -1},
      {"one silent",
       {fresh, NoReply(Reason::kDnsTimeout), fresh},
       std::nullopt,
       1.0,
       Reason::kDnsTimeout,
       2.0 / 3,
       0},
      {"one SERVFAIL",
       {fresh, Rcode(ns_r_servfail)},
       std::nullopt,
       1.0,
       Reason::kDnsServfail,
       0.5,
       0},
      {"tie takes the first", {stale, fresh}, std::nullopt, 0.5, Reason::kNone, 0.5, 0},
      {"nothing answers",
       {NoReply(Reason::kDnsTimeout), NoReply(Reason::kDnsTimeout)},
       std::nullopt,
       1.0,
       Reason::kDnsTimeout,
       0,
       -1},
      // A tie goes to the first resolver's reason in configured order, not to the reason that
      // reached the top count first (timeout, at the third resolver).
      {"tie: first in configured order",
       {Rcode(ns_r_refused), NoReply(Reason::kDnsTimeout), NoReply(Reason::kDnsTimeout),
        Rcode(ns_r_refused)},
       std::nullopt,
       1.0,
       Reason::kDnsRefused,
       0,
       -1},
      {"malformed",
       {NoReply(Reason::kDnsMalformed)},
       std::nullopt,
       1.0,
       Reason::kDnsMalformed,
       0,
       -1},
  };
  for (const auto& row : rows) {
    Agreement ag = CompareOutcomes(row.outcomes, row.expect, row.min_ratio);
    EXPECT_EQ(ag.reason, row.reason) << row.name << ": got " << ReasonName(ag.reason);
    EXPECT_DOUBLE_EQ(ag.ratio, row.ratio) << row.name;
    EXPECT_EQ(ag.reference, row.reference) << row.name;
  }
}

TEST(AnswerOrNoteTest, AnswerWhenReadElseTheNote) {
  EXPECT_EQ(AnswerOrNote(ExpectedAnswerSet({"10.0.0.2", "10.0.0.1"}), "unused"),
            "10.0.0.1 10.0.0.2");
  EXPECT_EQ(AnswerOrNote(std::nullopt, "no answer within 5.0 ms"), "no answer within 5.0 ms");
  std::vector<std::string> many;
  for (int i = 0; i < 20; ++i) many.push_back("10.0.0." + std::to_string(100 + i));
  std::string long_answer = AnswerOrNote(ExpectedAnswerSet(many), "");
  EXPECT_EQ(long_answer.size(), 123u) << long_answer;  // 120 bytes and "..."
  EXPECT_EQ(long_answer.substr(120), "...");
}

}  // namespace
}  // namespace gatewatch
