// FileTailer on real files in a temp dir: where it starts, partial and too-long lines, both kinds
// of rotation, a vanished or unusable file, and the per-poll byte budget.
#include "agent/io/file_tailer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "tests/testlib/temp_dir.h"

namespace gatewatch {
namespace {

class FileTailerTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name = "access.log") const {
    return dir_.path() + "/" + name;
  }
  void Append(const std::string& text, const std::string& name = "access.log") {
    std::ofstream(Path(name), std::ios::app) << text;
  }
  FileTailer::Options Opts() {
    FileTailer::Options o;
    o.path = Path();
    return o;
  }
  // A tailer already following an empty log, as after its first run.
  std::unique_ptr<FileTailer> Following(FileTailer::Options o) {
    Append("");
    auto t = std::make_unique<FileTailer>(o);
    Poll(*t);
    return t;
  }
  std::vector<std::string> Poll(FileTailer& t, FileTailer::PollStats* stats = nullptr) {
    std::vector<std::string> lines;
    auto s = t.Poll([&](std::string_view l) { lines.emplace_back(l); });
    if (stats != nullptr) *stats = s;
    return lines;
  }
  using Lines = std::vector<std::string>;

  testing::TempDir dir_;
};

TEST_F(FileTailerTest, StartsAtTheEndOnFirstOpen) {
  Append("old 1\nold 2\nhalf");
  FileTailer t(Opts());
  EXPECT_EQ(Poll(t), Lines{});
  // The rest of the line it started in is not a line of its own.
  Append(" line\nnew 1\n");
  EXPECT_EQ(Poll(t), Lines{"new 1"});
  EXPECT_EQ(Poll(t), Lines{});
}

// A second tailer given the first one's position carries on exactly there (the half line
// included), whatever start_at_end says; if the path names another file by then (rotated), that
// file is new and read from its start; if the same file was truncated, from its start too.
TEST_F(FileTailerTest, ResumesFromAnotherTailersPosition) {
  auto first = Following(Opts());
  Append("a 1\nhal");
  EXPECT_EQ(Poll(*first), Lines{"a 1"});
  auto position = first->position();
  ASSERT_TRUE(position.has_value());
  first.reset();
  Append("f 1\nb 1\n");  // written while no tailer runs
  FileTailer::Options o = Opts();
  o.resume = position;
  FileTailer second(o);
  EXPECT_EQ(Poll(second), (Lines{"half 1", "b 1"}));
  EXPECT_EQ(Poll(second), Lines{});

  // The path renamed away and created again meanwhile: the new file is read whole.
  position = second.position();
  std::filesystem::rename(Path(), Path("access.log.1"));
  Append("new 1\n");
  o.resume = position;
  FileTailer third(o);
  EXPECT_EQ(Poll(third), Lines{"new 1"});

  // The same file truncated and rewritten meanwhile (copytruncate): from its start.
  position = third.position();
  std::filesystem::resize_file(Path(), 0);
  Append("x 1\n");
  o.resume = position;
  FileTailer fourth(o);
  EXPECT_EQ(Poll(fourth), Lines{"x 1"});
}

TEST_F(FileTailerTest, CanStartAtTheBeginning) {
  Append("old 1\nold 2\n");
  auto o = Opts();
  o.start_at_end = false;
  FileTailer t(o);
  EXPECT_EQ(Poll(t), (Lines{"old 1", "old 2"}));
}

TEST_F(FileTailerTest, PartialLinesWaitForTheirNewline) {
  auto tailer = Following(Opts());
  FileTailer& t = *tailer;
  Append("GET /a");
  EXPECT_EQ(Poll(t), Lines{});
  Append(" 200\nGET /b 502\nGET");
  EXPECT_EQ(Poll(t), (Lines{"GET /a 200", "GET /b 502"}));
  Append(" /c 504\n");
  EXPECT_EQ(Poll(t), Lines{"GET /c 504"});
}

TEST_F(FileTailerTest, LongLinesAreCountedAndSkipped) {
  auto o = Opts();
  o.max_line = 10;
  auto tailer = Following(o);
  FileTailer& t = *tailer;
  FileTailer::PollStats s;
  Append("short\n" + std::string(25, 'x') + "\nok\n");
  EXPECT_EQ(Poll(t, &s), (Lines{"short", "ok"}));
  EXPECT_EQ(s.too_long, 1u);
  // A long line arriving in pieces is counted once and never buffered past the cap.
  Append(std::string(8, 'y'));
  EXPECT_EQ(Poll(t, &s), Lines{});
  Append(std::string(8, 'y'));
  EXPECT_EQ(Poll(t, &s), Lines{});
  EXPECT_EQ(s.too_long, 1u);
  Append(std::string(8, 'y') + "\nafter\n");
  EXPECT_EQ(Poll(t, &s), Lines{"after"});
  EXPECT_EQ(s.too_long, 0u);
}

TEST_F(FileTailerTest, FollowsRenameAndCreateWithoutLosingLateLines) {
  auto tailer = Following(Opts());
  FileTailer& t = *tailer;
  Append("a\n");
  EXPECT_EQ(Poll(t), Lines{"a"});
  std::filesystem::rename(Path(), Path("access.log.1"));
  // Until nginx reopens, it writes into the renamed file; the path may not exist meanwhile.
  Append("b\n", "access.log.1");
  FileTailer::PollStats s;
  EXPECT_EQ(Poll(t, &s), Lines{"b"});
  EXPECT_TRUE(s.error.empty()) << s.error;
  Append("c\n", "access.log.1");
  Append("d\n");  // reopened: the new file
  EXPECT_EQ(Poll(t, &s), (Lines{"c", "d"}));
  EXPECT_EQ(s.rotations, 1u);
  // A worker that reopened late still wrote into the old file.
  Append("e\n", "access.log.1");
  Append("f\n");
  EXPECT_EQ(Poll(t, &s), (Lines{"e", "f"}));
  EXPECT_EQ(s.rotations, 0u);
  EXPECT_EQ(Poll(t), Lines{});
  EXPECT_EQ(Poll(t), Lines{});
  Append("g\n");
  EXPECT_EQ(Poll(t), Lines{"g"});
}

TEST_F(FileTailerTest, FollowsCopytruncate) {
  auto tailer = Following(Opts());
  FileTailer& t = *tailer;
  Append("line 1\nline 2\nline 3\n");
  EXPECT_EQ(Poll(t).size(), 3u);
  std::filesystem::copy_file(Path(), Path("access.log.1"));
  ASSERT_EQ(truncate(Path().c_str(), 0), 0);
  FileTailer::PollStats s;
  EXPECT_EQ(Poll(t, &s), Lines{});
  EXPECT_EQ(s.rotations, 1u);
  Append("line 4\n");
  EXPECT_EQ(Poll(t, &s), Lines{"line 4"});
  EXPECT_EQ(s.rotations, 0u);
}

TEST_F(FileTailerTest, NoticesCopytruncateEvenWhenTheFileGrewPastTheOffsetAgain) {
  auto tailer = Following(Opts());
  FileTailer& t = *tailer;
  Append("first line\n");
  EXPECT_EQ(Poll(t), Lines{"first line"});
  ASSERT_EQ(truncate(Path().c_str(), 0), 0);
  Append("x1\nx2\nx3\nx4\nx5\n");
  FileTailer::PollStats s;
  EXPECT_EQ(Poll(t, &s), (Lines{"x1", "x2", "x3", "x4", "x5"}));
  EXPECT_EQ(s.rotations, 1u);
}

TEST_F(FileTailerTest, VanishedFileIsReportedAndRetried) {
  FileTailer t(Opts());
  FileTailer::PollStats s;
  EXPECT_EQ(Poll(t, &s), Lines{});
  EXPECT_EQ(s.error, "open " + Path() + ": No such file or directory");
  // Created after the first poll: everything in it is new.
  Append("one\n");
  EXPECT_EQ(Poll(t, &s), Lines{"one"});
  EXPECT_TRUE(s.error.empty());
}

TEST_F(FileTailerTest, DeletedFileIsDrainedThenReportedUntilItIsBack) {
  auto tailer = Following(Opts());
  FileTailer& t = *tailer;
  Append("last words\n");
  std::filesystem::remove(Path());
  FileTailer::PollStats s;
  EXPECT_EQ(Poll(t, &s), Lines{"last words"});
  EXPECT_EQ(s.error, "open " + Path() + ": No such file or directory");
  EXPECT_EQ(Poll(t, &s), Lines{});
  EXPECT_FALSE(s.error.empty());
  Append("back\n");
  EXPECT_EQ(Poll(t, &s), Lines{"back"});
  EXPECT_TRUE(s.error.empty());
}

TEST_F(FileTailerTest, NotARegularFileIsAnError) {
  std::filesystem::create_directory(Path());
  FileTailer t(Opts());
  FileTailer::PollStats s;
  Poll(t, &s);
  EXPECT_EQ(s.error, Path() + ": not a regular file");
}

TEST_F(FileTailerTest, EachPollReadsAtMostItsBudget) {
  auto o = Opts();
  o.max_bytes_per_poll = 100;
  auto tailer = Following(o);
  FileTailer& t = *tailer;
  std::string text;
  for (int i = 0; i < 100; ++i) text += "line " + std::to_string(1000 + i) + "\n";  // 10 bytes
  Append(text);
  Lines all;
  int polls = 0;
  FileTailer::PollStats s;
  do {
    Lines got = Poll(t, &s);
    EXPECT_LE(s.bytes, 100u);
    all.insert(all.end(), got.begin(), got.end());
  } while (s.more && ++polls < 50);
  ASSERT_EQ(all.size(), 100u);
  EXPECT_EQ(all.front(), "line 1000");
  EXPECT_EQ(all.back(), "line 1099");
  EXPECT_GE(polls, 9);
}

// Without a byte cap a poll reads until it has caught up, however far behind; the backlog is 0.
TEST_F(FileTailerTest, ReadsUntilCaughtUpAndReportsNoBacklog) {
  auto tailer = Following(Opts());
  std::string text;
  for (int i = 0; i < 200000; ++i) text += "line " + std::to_string(1000000 + i) + "\n";  // 13 B
  Append(text);  // 2.6 MB: far more than one 64 KiB chunk
  FileTailer::PollStats s;
  Lines got = Poll(*tailer, &s);
  EXPECT_EQ(got.size(), 200000u);
  EXPECT_EQ(s.bytes, text.size());
  EXPECT_EQ(s.backlog, 0u);
}

// A spent CPU budget ends the poll (after at least one chunk), and the backlog says how much is
// left; the next polls carry on where it stopped until nothing is left.
TEST_F(FileTailerTest, CpuBudgetEndsAPollAndTheBacklogSaysWhatIsLeft) {
  auto o = Opts();
  o.cpu_budget = std::chrono::nanoseconds(1);  // spent after the first chunk, on any machine
  auto tailer = Following(o);
  std::string text;
  for (int i = 0; i < 100000; ++i) text += "line " + std::to_string(1000000 + i) + "\n";
  Append(text);  // 1.3 MB
  FileTailer::PollStats s;
  Lines all = Poll(*tailer, &s);
  EXPECT_TRUE(s.more);
  EXPECT_EQ(s.bytes, 64u * 1024);
  EXPECT_EQ(s.backlog, text.size() - s.bytes);
  int polls = 1;
  while (s.more && polls++ < 100) {
    uint64_t before = s.backlog;
    Lines got = Poll(*tailer, &s);
    all.insert(all.end(), got.begin(), got.end());
    EXPECT_EQ(s.backlog, before - s.bytes);
  }
  ASSERT_EQ(all.size(), 100000u);
  EXPECT_EQ(all.back(), "line 1099999");
  EXPECT_EQ(s.backlog, 0u);
  EXPECT_GE(polls, 20);  // 1.3 MB in 64 KiB chunks
}

}  // namespace
}  // namespace gatewatch
