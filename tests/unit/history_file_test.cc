// --storage.path: the history file's format (exporters/history_file.h) round-trips everything the
// status page and API show, and every kind of bad file (empty, truncated at any byte, foreign,
// newer, corrupt, inconsistent, oversized) is an error, never a crash; the atomic file helpers
// (agent/io/atomic_file.h); and HistoryPersister saving and loading through a folder, ignoring a
// bad file and dropping checks that are no longer configured.
#include "exporters/history_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "agent/base/fnv.h"
#include "agent/history_persister.h"
#include "agent/io/atomic_file.h"
#include "tests/testlib/check_spec.h"
#include "tests/testlib/fake_clock.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::Spec;

Result Ok() {
  Result r = Result::Success();
  r.duration = milliseconds(12);
  r.report = {{"status", "200"}};
  return r;
}

Result Fail(Reason reason, std::string detail) {
  Result r = Result::Failure(reason, std::move(detail));
  r.duration = milliseconds(34);
  r.report = {{"status", "502"}, {"response_body", "<b>bad gateway</b>\xff"}};
  return r;
}

// A store with two checks: `api` failing, ok, failing again; `db` never failing.
struct Filled {
  FakeClock clock;
  HistoryStore store{clock, HistoryOptions{.runs = 10, .failures = 3, .changes = 4}};
  CheckSpec api = Spec("api");
  CheckSpec db = Spec("db", "dns");

  Filled() {
    store.OnConfig({&api, &db});
    for (int i = 0; i < 25; ++i) {
      clock.Advance(seconds(10));
      store.OnResult(api, (i / 5) % 2 == 0
                              ? Fail(i < 5 ? Reason::kConnectionRefused : Reason::kHttp502,
                                     "run " + std::to_string(i))
                              : Ok());
      store.OnResult(db, Ok());
    }
  }
  std::string File() {
    HistoryFileEncoder encoder;
    for (const auto& name : store.Names()) EXPECT_TRUE(encoder.Add(*store.Snapshot(name)));
    return encoder.Finish();
  }
};

std::string Dump(const CheckHistory& h) {
  std::string out = h.summary.name + " " + h.summary.type +
                    " runs=" + std::to_string(h.summary.runs_total) +
                    " failures=" + std::to_string(h.summary.failures_total) +
                    " ok=" + std::to_string(h.summary.ok) +
                    " since=" + std::to_string(h.summary.since_ms) + " detail=" + h.summary.detail;
  auto entry = [&](const HistoryEntry& e) {
    out += "\n  #" + std::to_string(e.seq) + " t=" + std::to_string(e.time_ms) +
           " d=" + std::to_string(e.duration_us) + " " + std::string(ReasonName(e.reason));
    if (e.evidence) {
      out += " [" + e.evidence->detail + "]";
      for (const auto& [k, v] : e.evidence->report) out += " " + k + "=" + v;
    }
  };
  for (const auto& e : h.runs) entry(e);
  out += "\n failures:";
  for (const auto& e : h.failures) entry(e);
  out += "\n changes:";
  for (const auto& p : h.changes) {
    out += " " + std::to_string(p.ok) + "/" + std::string(ReasonName(p.first_reason)) + "/" +
           std::to_string(p.start_ms) + "-" + std::to_string(p.end_ms) + "/" +
           std::to_string(p.runs);
  }
  out += "\n last:";
  if (h.last) entry(*h.last);
  return out;
}

TEST(HistoryFileTest, RoundTripRestoresWhatTheApiShows) {
  Filled a;
  auto decoded = DecodeHistoryFile(a.File());
  ASSERT_TRUE(decoded) << decoded.error().message;
  ASSERT_EQ(decoded->size(), 2u);

  // Into a fresh store (a restart), then configured as before.
  FakeClock clock;
  HistoryStore b{clock, HistoryOptions{.runs = 10, .failures = 3, .changes = 4}};
  b.Restore(std::move(*decoded));
  b.OnConfig({&a.api, &a.db});
  for (const char* name : {"api", "db"}) {
    auto before = a.store.Snapshot(name);
    auto after = b.Snapshot(name);
    ASSERT_TRUE(before && after);
    EXPECT_EQ(Dump(*after), Dump(*before));
  }
  EXPECT_EQ(b.Snapshot("api")->failures.size(), 3u);
  EXPECT_EQ(b.Snapshot("api")->failures.back().evidence->report[1].second,
            "<b>bad gateway</b>\xEF\xBF\xBD");

  // Runs after the restart continue the numbering and the current state period.
  a.clock.Advance(seconds(10));
  clock.Advance(seconds(10));
  b.OnResult(a.api, Fail(Reason::kHttp502, "after restart"));
  auto h = b.Snapshot("api");
  EXPECT_EQ(h->summary.runs_total, 26u);
  EXPECT_EQ(h->runs.back().seq, 26u);
  EXPECT_EQ(h->changes.back().runs, 6u);  // runs 20..24 before, one after
}

TEST(HistoryFileTest, RestoreDropsChecksNoLongerConfiguredOrOfAnotherType) {
  Filled a;
  auto decoded = DecodeHistoryFile(a.File());
  ASSERT_TRUE(decoded);
  FakeClock clock;
  HistoryStore b{clock};
  b.Restore(std::move(*decoded));
  CheckSpec db_now_http = Spec("db", "http");
  b.OnConfig({&db_now_http});
  EXPECT_FALSE(b.Snapshot("api"));
  ASSERT_TRUE(b.Snapshot("db"));
  EXPECT_EQ(b.Snapshot("db")->summary.runs_total, 0u);  // a new type starts over
}

TEST(HistoryFileTest, RestoreAppliesTheCurrentBounds) {
  Filled a;
  auto decoded = DecodeHistoryFile(a.File());
  ASSERT_TRUE(decoded);
  FakeClock clock;
  HistoryStore b{clock, HistoryOptions{.runs = 4, .failures = 1, .changes = 2}};
  b.Restore(std::move(*decoded));
  b.OnConfig({&a.api});
  auto h = b.Snapshot("api");
  ASSERT_TRUE(h);
  ASSERT_EQ(h->runs.size(), 4u);
  EXPECT_EQ(h->runs.front().seq, 22u);  // the newest ones, numbered as before
  EXPECT_EQ(h->failures.size(), 1u);
  EXPECT_EQ(h->changes.size(), 2u);
}

TEST(HistoryFileTest, EmptyStoreRoundTrips) {
  auto decoded = DecodeHistoryFile(HistoryFileEncoder().Finish());
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_TRUE(decoded->empty());
}

TEST(HistoryFileTest, EveryTruncationIsAnError) {
  std::string file = Filled().File();
  for (size_t n = 0; n < file.size(); ++n) {
    auto decoded = DecodeHistoryFile(std::string_view(file).substr(0, n));
    EXPECT_FALSE(decoded) << "accepted the first " << n << " of " << file.size() << " bytes";
  }
}

TEST(HistoryFileTest, EveryFlippedByteIsAnError) {
  std::string file = Filled().File();
  for (size_t i = 0; i < file.size(); ++i) {
    std::string bad = file;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    EXPECT_FALSE(DecodeHistoryFile(bad)) << "byte " << i;
  }
}

TEST(HistoryFileTest, ForeignNewerAndPaddedFilesAreErrors) {
  std::string file = Filled().File();
  auto error_of = [](std::string_view bytes) {
    auto d = DecodeHistoryFile(bytes);
    return d ? std::string("accepted") : d.error().message;
  };
  EXPECT_EQ(error_of(""), "file ends in its header");
  EXPECT_EQ(error_of("{\"checks\": []} and some more text to pass the header"),
            "not a gatewatch history file");
  std::string newer = file;
  newer[8] = 2;
  EXPECT_EQ(error_of(newer), "history file version 2 (this gatewatch reads 1)");
  EXPECT_NE(error_of(file + "x").find("truncated?"), std::string::npos);
}

// A file whose checksum is right but whose content lies: built by hand.
std::string WithPayload(const std::string& payload, uint32_t checks) {
  std::string h = "GWHISTRY";
  auto u32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) h.push_back(static_cast<char>(v >> (8 * i)));
  };
  auto u64 = [&](uint64_t v) {
    for (int i = 0; i < 8; ++i) h.push_back(static_cast<char>(v >> (8 * i)));
  };
  u32(1);
  u32(checks);
  u64(payload.size());
  u64(Fnv1a64(payload));
  return h + payload;
}

std::string U32(uint32_t v) {
  std::string s;
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
  return s;
}
std::string U64(uint64_t v) { return U32(static_cast<uint32_t>(v)) + U32(v >> 32); }
std::string Str(const std::string& s) { return U32(static_cast<uint32_t>(s.size())) + s; }

// The reason table every file starts with: the names in this build's order.
std::string ReasonTable() {
  std::string t = U32(kReasonCount);
  for (size_t i = 0; i < kReasonCount; ++i)
    t += Str(std::string(ReasonName(static_cast<Reason>(i))));
  return t;
}

// Reasons are bytes indexed into the file's own table of names: a file written by a build whose
// reason list differs (entries added or moved) still reads with the right reasons, and a name this
// build does not know is "other".
TEST(HistoryFileTest, ReasonsAreReadThroughTheFilesOwnTable) {
  const std::string table = U32(3) + Str("connection_refused") + Str("none") + Str("future_reason");
  auto check = [](char run_reason, char last_reason) {
    return Str("api") + Str("http") + U64(1) + U64(0) + U32(1) + U64(1000) + U32(5) + run_reason +
           U32(0) + U32(0) + '\x01' + U64(1) + U64(1000) + U64(5) + last_reason + '\0';
  };
  auto d = DecodeHistoryFile(WithPayload(table + check('\x01', '\x01'), 1));
  ASSERT_TRUE(d) << d.error().message;
  ASSERT_EQ(d->size(), 1u);
  ASSERT_EQ((*d)[0].runs.size(), 1u);
  EXPECT_EQ((*d)[0].runs[0].reason, Reason::kNone);  // byte 1 is "none" in this file
  ASSERT_TRUE((*d)[0].last.has_value());
  EXPECT_EQ((*d)[0].last->reason, Reason::kNone);
  auto unknown = DecodeHistoryFile(WithPayload(table + check('\x02', '\x02'), 1));
  if (unknown) {
    EXPECT_EQ((*unknown)[0].runs[0].reason, Reason::kOther);
  } else {
    // A failure counted nowhere may be refused as inconsistent; it must never read as another
    // reason.
    EXPECT_EQ(unknown.error().message.find("unknown reason"), std::string::npos);
  }
  EXPECT_NE(DecodeHistoryFile(WithPayload(U32(1) + Str("none") + check('\x01', '\x01'), 1))
                .error()
                .message.find("unknown reason"),
            std::string::npos);
}

TEST(HistoryFileTest, ConsistentChecksumButLyingContentIsAnError) {
  auto error_of = [](const std::string& payload, uint32_t checks) {
    auto d = DecodeHistoryFile(WithPayload(ReasonTable() + payload, checks));
    return d ? std::string("accepted") : d.error().message;
  };
  const std::string head = Str("api") + Str("http");
  const std::string kPad(16, '\0');  // so that the check count alone does not give it away
  // A check that never ran: accepted.
  const std::string empty_check = head + U64(0) + U64(0) + U32(0) + U32(0) + U32(0) + '\0';
  EXPECT_EQ(error_of(empty_check, 1), "accepted");
  // Counts far beyond the file: refused before any allocation.
  EXPECT_NE(error_of(empty_check, 0xffffffff).find("check count"), std::string::npos);
  EXPECT_NE(error_of(head + U64(5) + U64(0) + U32(0xffffffff) + kPad, 1).find("count 4294967295"),
            std::string::npos);
  EXPECT_NE(error_of(Str(std::string(5000, 'n')) + Str("http"), 1).find("string of 5000"),
            std::string::npos);
  // More runs kept than ever ran; failures > runs; an unknown reason; a run with no last.
  std::string run = U64(1000) + U32(5) + '\x01';
  EXPECT_NE(error_of(head + U64(0) + U64(0) + U32(1) + run, 1).find("more runs"),
            std::string::npos);
  EXPECT_NE(error_of(head + U64(1) + U64(2) + kPad, 1).find("more failures"), std::string::npos);
  std::string bad_reason = U64(1000) + U32(5) + '\xee';
  EXPECT_NE(error_of(head + U64(1) + U64(0) + U32(1) + bad_reason, 1).find("unknown reason"),
            std::string::npos);
  EXPECT_NE(error_of(head + U64(1) + U64(0) + U32(0) + U32(0) + U32(0) + '\0', 1).find("no last"),
            std::string::npos);
  // The same check twice; bytes after the last check.
  EXPECT_NE(error_of(empty_check + empty_check, 2).find("twice"), std::string::npos);
  EXPECT_NE(error_of(empty_check + "zz", 1).find("bytes after"), std::string::npos);
}

TEST(AtomicFileTest, WritesReplacesAndReadsBounded) {
  testing::TempDir dir;
  std::string path = dir.path() + "/f";
  ASSERT_TRUE(WriteFileAtomically(path, "first"));
  ASSERT_TRUE(WriteFileAtomically(path, "second"));
  auto read = ReadFileBounded(path, 100);
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, "second");
  struct stat st;
  EXPECT_NE(::stat((path + ".tmp").c_str(), &st), 0);  // no temporary left behind
  auto big = ReadFileBounded(path, 3);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, EFBIG);
  auto missing = ReadFileBounded(dir.path() + "/none", 100);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ENOENT);
  EXPECT_FALSE(ReadFileBounded(dir.path(), 100));  // a folder is not a file
  EXPECT_FALSE(WriteFileAtomically(dir.path() + "/no/such/folder/f", "x"));
  EXPECT_TRUE(EnsureDirectory(dir.path() + "/new"));
  EXPECT_TRUE(EnsureDirectory(dir.path() + "/new"));
  EXPECT_FALSE(EnsureDirectory(path));  // a file
}

TEST(HistoryPersisterTest, SavesAndLoadsThroughTheFolder) {
  testing::TempDir dir;
  Filled a;
  {
    HistoryPersister p(a.store, dir.path() + "/state");
    ASSERT_TRUE(p.Prepare());
    EXPECT_TRUE(p.Load().empty());  // first start: no file
    p.Start();
    p.Stop();  // saves once
  }
  FakeClock clock;
  HistoryStore b{clock, HistoryOptions{.runs = 10, .failures = 3, .changes = 4}};
  HistoryPersister p(b, dir.path() + "/state");
  ASSERT_TRUE(p.Prepare());
  b.Restore(p.Load());
  b.OnConfig({&a.api});
  ASSERT_TRUE(b.Snapshot("api"));
  EXPECT_EQ(Dump(*b.Snapshot("api")), Dump(*a.store.Snapshot("api")));
  EXPECT_FALSE(b.Snapshot("db"));
}

TEST(HistoryPersisterTest, CorruptFileIsIgnored) {
  testing::TempDir dir;
  Filled a;
  HistoryPersister p(a.store, dir.path());
  ASSERT_TRUE(p.SaveNow());
  std::string file = *ReadFileBounded(p.file(), kMaxHistoryFileBytes);
  for (std::string bad : {std::string(), file.substr(0, file.size() / 2), std::string("junk")}) {
    std::ofstream(p.file(), std::ios::trunc) << bad;
    EXPECT_TRUE(p.Load().empty());
  }
  HistoryPersister on_file(a.store, p.file());  // DIR is a file: refused
  EXPECT_FALSE(on_file.Prepare());
}

}  // namespace
}  // namespace gatewatch
