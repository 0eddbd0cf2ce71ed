#include "checks/dns_answers.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <strings.h>

#include <algorithm>
#include <array>

#include "agent/base/fnv.h"
#include "agent/base/strings.h"
#include "agent/base/units.h"
#include "checks/http_reasons.h"
#include "checks/reason_vote.h"
#include "checks/text_fields.h"

namespace gatewatch {
namespace {

constexpr std::array<std::pair<std::string_view, int>, 9> kTypes = {{
    {"A", ns_t_a},
    {"AAAA", ns_t_aaaa},
    {"CNAME", ns_t_cname},
    {"MX", ns_t_mx},
    {"TXT", ns_t_txt},
    {"NS", ns_t_ns},
    {"SOA", ns_t_soa},
    {"SRV", ns_t_srv},
    {"CAA", 257},  // ns_t_caa is missing from older glibc headers
}};

// A bounded reader over one message: every read checks the length, so a hostile reply can only
// fail the parse.
class Reader {
 public:
  Reader(const unsigned char* data, size_t len) : data_(data), len_(len) {}

  bool U8(size_t at, uint8_t* v) const {
    if (at + 1 > len_) return false;
    *v = data_[at];
    return true;
  }
  bool U16(size_t at, uint16_t* v) const {
    if (at + 2 > len_) return false;
    *v = static_cast<uint16_t>(data_[at] << 8 | data_[at + 1]);
    return true;
  }
  bool U32(size_t at, uint32_t* v) const {
    if (at + 4 > len_) return false;
    *v = static_cast<uint32_t>(data_[at]) << 24 | static_cast<uint32_t>(data_[at + 1]) << 16 |
         static_cast<uint32_t>(data_[at + 2]) << 8 | data_[at + 3];
    return true;
  }

  // Reads a possibly compressed name at `at` into `out` (lowercase, dot-separated, no trailing
  // dot; "" for the root) and sets *next to the byte after it in place. `out` may be null to
  // only skip it. Pointer loops and names over 255 bytes fail.
  bool Name(size_t at, std::string* out, size_t* next) const {
    std::string name;
    size_t pos = at;
    bool jumped = false;
    int jumps = 0;
    size_t wire_length = 0;
    while (true) {
      uint8_t len = 0;
      if (!U8(pos, &len)) return false;
      if ((len & 0xC0) == 0xC0) {
        uint8_t low = 0;
        if (!U8(pos + 1, &low)) return false;
        if (!jumped) *next = pos + 2;
        jumped = true;
        if (++jumps > 64) return false;
        size_t target = static_cast<size_t>(len & 0x3F) << 8 | low;
        if (target >= len_) return false;
        pos = target;
        continue;
      }
      if ((len & 0xC0) != 0) return false;  // 0x40/0x80: obsolete or reserved label types
      if (len == 0) {
        if (!jumped) *next = pos + 1;
        break;
      }
      wire_length += len + 1;
      if (wire_length > 255 || pos + 1 + len > len_) return false;
      if (out != nullptr) {
        if (!name.empty()) name += '.';
        for (size_t i = 0; i < len; ++i) {
          char c = static_cast<char>(data_[pos + 1 + i]);
          name += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        }
      }
      pos += 1 + len;
    }
    if (out != nullptr) *out = std::move(name);
    return true;
  }

  size_t size() const { return len_; }
  const unsigned char* at(size_t i) const { return data_ + i; }

 private:
  const unsigned char* data_;
  size_t len_;
};

// Per-record hash, mixed so that summing (order-independent) does not cancel structure.
uint64_t RecordHash(std::string_view record) {
  uint64_t z = Fnv1a64(record) + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::string LowerName(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

bool IsDecimal(std::string_view s, uint64_t max, uint64_t* v) {
  if (s.empty() || s.size() > 10) return false;
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n > max) return false;
  *v = n;
  return true;
}

// Canonical record text of the rdata at [at, at+rdlen), or nullopt if it does not parse.
std::optional<std::string> RdataText(const Reader& r, int type, size_t at, size_t rdlen) {
  const size_t end = at + rdlen;
  auto name_at = [&](size_t pos, std::string* out, size_t* next) {
    return r.Name(pos, out, next) && *next <= end;
  };
  switch (type) {
    case ns_t_a:
    case ns_t_aaaa: {
      size_t want = type == ns_t_a ? 4 : 16;
      if (rdlen != want) return std::nullopt;
      char buf[INET6_ADDRSTRLEN];
      if (inet_ntop(type == ns_t_a ? AF_INET : AF_INET6, r.at(at), buf, sizeof buf) == nullptr)
        return std::nullopt;
      return std::string(buf);
    }
    case ns_t_cname:
    case ns_t_ns: {
      std::string name;
      size_t next;
      if (!name_at(at, &name, &next) || next != end) return std::nullopt;
      return name;
    }
    case ns_t_mx: {
      uint16_t pref = 0;
      std::string name;
      size_t next;
      if (!r.U16(at, &pref) || !name_at(at + 2, &name, &next) || next != end) return std::nullopt;
      return std::to_string(pref) + " " + name;
    }
    case ns_t_srv: {
      uint16_t prio = 0, weight = 0, port = 0;
      std::string name;
      size_t next;
      if (!r.U16(at, &prio) || !r.U16(at + 2, &weight) || !r.U16(at + 4, &port) ||
          !name_at(at + 6, &name, &next) || next != end) {
        return std::nullopt;
      }
      return std::to_string(prio) + " " + std::to_string(weight) + " " + std::to_string(port) +
             " " + name;
    }
    case ns_t_txt: {
      std::string text;
      size_t pos = at;
      if (rdlen == 0) return std::nullopt;
      while (pos < end) {
        uint8_t len = 0;
        if (!r.U8(pos, &len) || pos + 1 + len > end) return std::nullopt;
        text.append(reinterpret_cast<const char*>(r.at(pos + 1)), len);
        pos += 1 + len;
      }
      return text;
    }
    case ns_t_soa: {
      std::string mname, rname;
      size_t next1, next2;
      if (!name_at(at, &mname, &next1) || !name_at(next1, &rname, &next2) || next2 + 20 != end)
        return std::nullopt;
      std::string out = mname + " " + rname;
      for (int i = 0; i < 5; ++i) {
        uint32_t v = 0;
        r.U32(next2 + 4 * i, &v);
        out += " " + std::to_string(v);
      }
      return out;
    }
    case 257: {  // CAA: flags, tag length, tag, value
      uint8_t flags = 0, tag_len = 0;
      if (!r.U8(at, &flags) || !r.U8(at + 1, &tag_len) || tag_len == 0 || at + 2 + tag_len > end)
        return std::nullopt;
      std::string tag(reinterpret_cast<const char*>(r.at(at + 2)), tag_len);
      std::string value(reinterpret_cast<const char*>(r.at(at + 2 + tag_len)),
                        end - (at + 2 + tag_len));
      return std::to_string(flags) + " " + LowerName(tag) + " " + value;
    }
    default:
      return std::nullopt;
  }
}

void AddRecord(DnsAnswerSet& set, std::string record) {
  // An RRset is a set (RFC 2181 5.): a record a server repeats counts once, so a reply that
  // repeats one still matches `expect` and the other resolvers. Past the cap repeats can no longer
  // be seen and count again (only a reply of over kMaxStoredRecords records gets there).
  if (!set.capped &&
      std::find(set.records.begin(), set.records.end(), record) != set.records.end()) {
    return;
  }
  set.hash += RecordHash(record);
  ++set.count;
  if (set.capped) return;
  if (set.records.size() >= DnsAnswerSet::kMaxStoredRecords) {
    // From here on only the count and the hash grow: memory stays bounded for any reply.
    set.records.clear();
    set.records.shrink_to_fit();
    set.capped = true;
    return;
  }
  set.records.push_back(std::move(record));
}

}  // namespace

std::optional<int> ParseDnsType(std::string_view name) {
  for (const auto& [n, t] : kTypes) {
    if (n.size() == name.size() && strncasecmp(n.data(), name.data(), n.size()) == 0) return t;
  }
  return std::nullopt;
}

std::string DnsTypeName(int type) {
  for (const auto& [n, t] : kTypes) {
    if (t == type) return std::string(n);
  }
  return "TYPE" + std::to_string(type);
}

std::optional<std::string> CanonicalRecord(int type, std::string_view text) {
  std::vector<std::string_view> f = BlankSeparatedFields(text);
  uint64_t a = 0, b = 0, c = 0;
  switch (type) {
    case ns_t_a:
    case ns_t_aaaa: {
      if (f.size() != 1) return std::nullopt;
      unsigned char buf[sizeof(in6_addr)];
      int family = type == ns_t_a ? AF_INET : AF_INET6;
      std::string s(f[0]);
      if (inet_pton(family, s.c_str(), buf) != 1) return std::nullopt;
      char out[INET6_ADDRSTRLEN];
      inet_ntop(family, buf, out, sizeof out);
      return std::string(out);
    }
    case ns_t_cname:
    case ns_t_ns:
      if (f.size() != 1) return std::nullopt;
      return LowerName(f[0]);
    case ns_t_mx:
      if (f.size() != 2 || !IsDecimal(f[0], 65535, &a)) return std::nullopt;
      return std::to_string(a) + " " + LowerName(f[1]);
    case ns_t_srv:
      if (f.size() != 4 || !IsDecimal(f[0], 65535, &a) || !IsDecimal(f[1], 65535, &b) ||
          !IsDecimal(f[2], 65535, &c)) {
        return std::nullopt;
      }
      return std::to_string(a) + " " + std::to_string(b) + " " + std::to_string(c) + " " +
             LowerName(f[3]);
    case ns_t_txt:
      if (text.empty()) return std::nullopt;
      return std::string(text);
    case 257: {
      if (f.size() < 3 || !IsDecimal(f[0], 255, &a)) return std::nullopt;
      // The value is everything after the tag, as written (it may hold spaces).
      size_t tag_at = text.find(f[1], f[0].size());
      size_t value_at = text.find(f[2], tag_at + f[1].size());
      std::string_view value = text.substr(value_at);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
        value = value.substr(1, value.size() - 2);
      return std::to_string(a) + " " + LowerName(f[1]) + " " + std::string(value);
    }
    case ns_t_soa: {
      if (f.size() != 7) return std::nullopt;
      std::string out = LowerName(f[0]) + " " + LowerName(f[1]);
      for (size_t i = 2; i < 7; ++i) {
        if (!IsDecimal(f[i], 0xFFFFFFFFull, &a)) return std::nullopt;
        out += " " + std::to_string(a);
      }
      return out;
    }
    default:
      return std::nullopt;
  }
}

std::optional<DnsAnswerSet> ParseDnsReply(const unsigned char* data, size_t len, int qtype,
                                          std::string* error) {
  auto fail = [&](const char* why) -> std::optional<DnsAnswerSet> {
    if (error != nullptr) *error = why;
    return std::nullopt;
  };
  if (data == nullptr || len < 12) return fail("reply shorter than a DNS header");
  Reader r(data, len);
  uint16_t flags = 0, qd = 0, an = 0, ns = 0;
  r.U16(2, &flags);
  r.U16(4, &qd);
  r.U16(6, &an);
  r.U16(8, &ns);
  if ((flags & 0x8000) == 0) return fail("not a response (QR bit clear)");
  DnsAnswerSet set;
  set.rcode = flags & 0x000F;
  set.authoritative = (flags & 0x0400) != 0;
  set.truncated = (flags & 0x0200) != 0;

  size_t pos = 12;
  for (uint16_t i = 0; i < qd; ++i) {
    size_t next;
    if (!r.Name(pos, nullptr, &next) || next + 4 > len) return fail("question runs past the end");
    pos = next + 4;
  }
  // Answer and authority sections; the additional section is never needed.
  for (uint32_t i = 0; i < static_cast<uint32_t>(an) + ns; ++i) {
    bool answer = i < an;
    std::string owner;
    size_t next;
    if (!r.Name(pos, &owner, &next)) return fail("bad owner name in a record");
    uint16_t type = 0, klass = 0, rdlen = 0;
    uint32_t ttl = 0;
    if (!r.U16(next, &type) || !r.U16(next + 2, &klass) || !r.U32(next + 4, &ttl) ||
        !r.U16(next + 8, &rdlen) || next + 10 + rdlen > len) {
      return fail("record runs past the end");
    }
    size_t rdata = next + 10;
    pos = rdata + rdlen;
    if (klass != ns_c_in) continue;
    if (type == ns_t_soa && (answer || set.rcode == 3 || an == 0)) {
      auto soa = RdataText(r, ns_t_soa, rdata, rdlen);
      if (!soa) return fail("malformed SOA record");
      if (set.soa_zone.empty()) {
        set.soa_zone = owner;
        uint32_t serial = 0;
        // The serial follows the two names: the 20 fixed bytes end the rdata.
        r.U32(rdata + rdlen - 20, &serial);
        set.soa_serial = serial;
      }
    }
    if (!answer || type != qtype) continue;
    auto text = RdataText(r, type, rdata, rdlen);
    if (!text) return fail("malformed record data");
    if (type == ns_t_ns && set.ns_names.size() < DnsAnswerSet::kMaxStoredRecords)
      set.ns_names.push_back(*text);
    set.min_ttl = std::min(set.min_ttl.value_or(ttl), ttl);
    AddRecord(set, std::move(*text));
  }
  std::sort(set.records.begin(), set.records.end());
  set.records.erase(std::unique(set.records.begin(), set.records.end()), set.records.end());
  return set;
}

QueryReply ReadQueryReply(int ares_status, const unsigned char* reply, int len, int qtype) {
  QueryReply out;
  if (reply == nullptr || len <= 0) {
    out.reason = ReasonForQueryStatus(ares_status);
    out.error = ares_strerror(ares_status);
    return out;
  }
  if (len >= 4) out.rcode = reply[3] & 0x0F;
  std::string error;
  out.answer = ParseDnsReply(reply, static_cast<size_t>(len), qtype, &error);
  if (!out.answer) {
    out.reason = Reason::kDnsMalformed;
    out.error = "malformed reply: " + error;
    return out;
  }
  out.reason = ReasonForRcode(out.answer->rcode, out.answer->count);
  return out;
}

DnsAnswerSet ExpectedAnswerSet(const std::vector<std::string>& canonical_records) {
  std::vector<std::string> unique = canonical_records;
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  DnsAnswerSet set;
  for (auto& r : unique) AddRecord(set, r);
  std::sort(set.records.begin(), set.records.end());
  return set;
}

bool SameAnswer(const DnsAnswerSet& a, const DnsAnswerSet& b) {
  return a.rcode == b.rcode && a.count == b.count && a.hash == b.hash;
}

Reason ReasonForRcode(int rcode, size_t count) {
  switch (rcode) {
    case ns_r_noerror:
      return count > 0 ? Reason::kNone : Reason::kDnsNodata;
    case ns_r_nxdomain:
      return Reason::kDnsNxdomain;
    case ns_r_servfail:
      return Reason::kDnsServfail;
    case ns_r_refused:
      return Reason::kDnsRefused;
    default:
      return Reason::kDnsError;
  }
}

Reason ReasonForQueryStatus(int ares_status) {
  if (ares_status == ARES_EBADRESP) return Reason::kDnsMalformed;
  if (ares_status == ARES_SUCCESS) return Reason::kDnsMalformed;  // success without a reply
  return ReasonForResolveStatus(ares_status);
}

std::string_view RcodeLabel(int rcode) {
  switch (rcode) {
    case -1:
      return "none";
    case ns_r_noerror:
      return "NOERROR";
    case ns_r_formerr:
      return "FORMERR";
    case ns_r_servfail:
      return "SERVFAIL";
    case ns_r_nxdomain:
      return "NXDOMAIN";
    case ns_r_notimpl:
      return "NOTIMP";
    case ns_r_refused:
      return "REFUSED";
    default:
      return "other";
  }
}

Agreement CompareOutcomes(const std::vector<ResolverOutcome>& outcomes,
                          const std::optional<DnsAnswerSet>& expect, double min_ratio) {
  Agreement ag;
  ag.match.assign(outcomes.size(), false);
  const DnsAnswerSet* reference = expect ? &*expect : nullptr;
  if (reference == nullptr) {
    size_t best_votes = 0;
    for (size_t i = 0; i < outcomes.size(); ++i) {
      if (!outcomes[i].answer || !outcomes[i].answer->positive()) continue;
      size_t votes = 0;
      for (const auto& o : outcomes) {
        if (o.answer && SameAnswer(*o.answer, *outcomes[i].answer)) ++votes;
      }
      if (votes > best_votes) {
        best_votes = votes;
        ag.reference = static_cast<int>(i);
      }
    }
    if (ag.reference >= 0) reference = &*outcomes[ag.reference].answer;
  }
  bool other_definitive = false;  // a resolver answered, but something else
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const auto& o = outcomes[i];
    if (reference != nullptr && o.answer && SameAnswer(*o.answer, *reference)) {
      ag.match[i] = true;
      ++ag.matching;
    } else if (o.answer && (o.answer->rcode == ns_r_noerror || o.answer->rcode == ns_r_nxdomain)) {
      other_definitive = true;
    }
  }
  ag.ratio = outcomes.empty() ? 0 : static_cast<double>(ag.matching) / outcomes.size();
  bool any_positive = std::any_of(outcomes.begin(), outcomes.end(),
                                  [](const auto& o) { return o.answer && o.answer->positive(); });
  if (reference != nullptr && ag.ratio >= min_ratio && ag.matching > 0) {
    ag.reason = Reason::kNone;
    return ag;
  }
  if (reference != nullptr && other_definitive && (ag.matching > 0 || any_positive)) {
    ag.reason = Reason::kDnsNotPropagated;
    return ag;
  }
  // The most frequent reason among the resolvers that do not match, first in order on a tie.
  ReasonVote votes;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (ag.match[i]) continue;
    Reason r = outcomes[i].reason;
    if (r == Reason::kNone) r = Reason::kDnsNotPropagated;  // positive but not the expected set
    votes.Add(r);
  }
  ag.reason = votes.Winner(Reason::kDnsError);
  return ag;
}

bool DnsNameShape(std::string_view name, bool (*allowed)(char)) {
  if (name.empty() || name.size() > 253) return false;
  size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (!allowed(c) || ++label > 63) {
      return false;
    }
  }
  return true;
}

bool IsPlainHostname(std::string_view name) {
  return !name.empty() && name.back() != '.' && DnsNameShape(name, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

std::string DescribeAnswer(const DnsAnswerSet& a) {
  if (a.rcode != ns_r_noerror) return std::string(RcodeLabel(a.rcode));
  if (a.count == 0) return "NOERROR, no records";
  if (a.capped) return std::to_string(a.count) + " records (hash " + FormatHex64(a.hash) + ")";
  std::string out;
  for (const auto& r : a.records) {
    if (!out.empty()) out += ' ';
    out += r;
  }
  return out;
}

std::string AnswerOrNote(const std::optional<DnsAnswerSet>& answer, const std::string& note) {
  if (answer) return Shorten(DescribeAnswer(*answer), 120);
  return note;
}

}  // namespace gatewatch
