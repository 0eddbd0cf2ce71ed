// The pure parts of the "dns" check: reading a raw DNS reply into a canonical answer set,
// comparing answer sets across resolvers (majority reference, propagation ratio), and mapping
// rcodes and c-ares statuses to the bounded Reason taxonomy.
//
// No I/O and no state: table-tested with real reply bytes in tests/unit/dns_answers_test.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "checks/api/reason.h"

namespace gatewatch {

// The record types a dns check may ask for: A, AAAA, CNAME, MX, TXT, NS, SOA, SRV, CAA.
// Returns the RR type number (ns_t_a, ...) or nullopt; the name is case-insensitive.
std::optional<int> ParseDnsType(std::string_view name);
// "A", "AAAA", ...; "TYPE<n>" for a type outside the list.
std::string DnsTypeName(int type);

// Canonical text of one record, the same for what a server sent and what a user wrote in
// `expect`, so the two compare as strings:
//   A/AAAA  "203.0.113.10", "2001:db8::1" (inet_ntop form)
//   CNAME/NS "target.example.com" (lowercase, no trailing dot)
//   MX      "10 mail.example.com"      SRV "10 5 443 host.example.com"
//   TXT     the character-strings concatenated ("v=spf1 -all")
//   CAA     "0 issue letsencrypt.org"  SOA "mname rname serial refresh retry expire minimum"
// Returns nullopt if `text` is not a valid record of `type` (config validation).
std::optional<std::string> CanonicalRecord(int type, std::string_view text);

// What one reply said about the question, reduced to what the check compares. Memory is bounded:
// at most kMaxStoredRecords canonical records are kept; a larger answer is only counted and
// hashed (the hash covers every record either way).
struct DnsAnswerSet {
  static constexpr size_t kMaxStoredRecords = 32;

  int rcode = 0;               // header RCODE (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED, ...)
  bool authoritative = false;  // AA bit
  bool truncated = false;      // TC bit (c-ares already retried over TCP; still set = cut answer)
  size_t count = 0;            // records of the asked type in the answer section
  uint64_t hash = 0;           // order-independent hash of the canonical records
  std::vector<std::string> records;  // sorted canonical records; empty when capped
  bool capped = false;               // count > kMaxStoredRecords: records not kept
  std::optional<uint32_t> min_ttl;   // smallest TTL among the counted records
  // From an SOA in the answer or, for NXDOMAIN/NODATA replies, the authority section: the zone
  // apex (owner name) and its serial.
  std::string soa_zone;
  std::optional<uint32_t> soa_serial;
  std::vector<std::string> ns_names;  // NS targets when the question was NS (also kept if capped)

  bool positive() const { return rcode == 0 && count > 0; }
};

// Parses a complete reply to a question of `qtype` (class IN). Records of other types (CNAMEs on
// the way to an A record, additional data) are skipped. Returns nullopt and sets *error for a
// reply that cannot be read (short, bad name compression, lengths past the end, not a response).
std::optional<DnsAnswerSet> ParseDnsReply(const unsigned char* data, size_t len, int qtype,
                                          std::string* error);

// What one query gave, from what c-ares delivered (status and raw reply, possibly null).
struct QueryReply {
  std::optional<DnsAnswerSet> answer;  // the reply could be read
  Reason reason = Reason::kDnsError;   // ReasonForRcode of the answer, else why there is none
  int rcode = -1;                      // header RCODE if a reply of at least 4 bytes came, else -1
  std::string error;                   // without an answer: c-ares's or the parser's words
};
QueryReply ReadQueryReply(int ares_status, const unsigned char* reply, int len, int qtype);

// The answer set `expect` describes, with the same hash as a reply carrying those records.
// Items must already be canonical (CanonicalRecord).
DnsAnswerSet ExpectedAnswerSet(const std::vector<std::string>& canonical_records);

// Two answer sets are the same answer when rcode, count and hash agree.
bool SameAnswer(const DnsAnswerSet& a, const DnsAnswerSet& b);

// Reason for one resolver's reply: kNone for a positive answer; NOERROR without records is
// dns_nodata, then dns_nxdomain, dns_servfail, dns_refused, and dns_error for other rcodes.
Reason ReasonForRcode(int rcode, size_t count);
// Reason when there is no reply to read: ARES_ETIMEOUT dns_timeout, ARES_EBADRESP dns_malformed,
// the rest as ReasonForResolveStatus.
Reason ReasonForQueryStatus(int ares_status);
// Bounded label value for the rcode_total counter: NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP,
// REFUSED, or "other"; "none" when no reply arrived (pass -1).
std::string_view RcodeLabel(int rcode);

// True if `name` (an NS target from the wire, where any byte is allowed) may be a `resolver`
// label value: 1-253 characters of letters, digits, '-', '_' and '.', no empty label, no label
// over 63. Anything else (non-ASCII, non-UTF-8, control bytes) would break /metrics.
bool IsPlainHostname(std::string_view name);
// 1-253 characters, labels of 1-63 characters made of `allowed` ones, separated by single dots
// (a trailing dot passes). The shape both IsPlainHostname and config name checks share.
bool DnsNameShape(std::string_view name, bool (*allowed)(char));

// One resolver's outcome as the comparison sees it.
struct ResolverOutcome {
  Reason reason = Reason::kDnsTimeout;  // kNone for a positive answer
  std::optional<DnsAnswerSet> answer;   // a reply was read (any rcode)
};

struct Agreement {
  // Index of the outcome whose answer is the reference (the majority positive answer, the first
  // such resolver on a tie), or -1 with `expect` or when no resolver had a positive answer.
  int reference = -1;
  std::vector<bool> match;  // per outcome: its answer equals the reference
  size_t matching = 0;
  double ratio = 0;  // matching / outcomes.size() (0 for no outcomes)
  // The run's reason given min_ratio: kNone when ratio >= min_ratio and there is a reference;
  // dns_not_propagated when a resolver gave a different definitive answer (another record set,
  // NXDOMAIN or NODATA) while the reference exists; else the most frequent reason among the
  // resolvers that do not match (first in order on a tie).
  Reason reason = Reason::kNone;
};

// Compares the outcomes with `expect` if given, else with each other.
Agreement CompareOutcomes(const std::vector<ResolverOutcome>& outcomes,
                          const std::optional<DnsAnswerSet>& expect, double min_ratio);

// Short text of an answer for details and reports: "203.0.113.10 203.0.113.11",
// "4000 records (hash 1a2b...)", "NXDOMAIN", "NOERROR, no records".
std::string DescribeAnswer(const DnsAnswerSet& a);

// What a server said, for details and reports: its answer (DescribeAnswer, at most 120 bytes) if
// a reply was read, else `note` (why there is none).
std::string AnswerOrNote(const std::optional<DnsAnswerSet>& answer, const std::string& note);

}  // namespace gatewatch
