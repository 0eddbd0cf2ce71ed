// DatagramReceiver and DatagramReceivers on real sockets (UDP on 127.0.0.1, unix datagram sockets
// in a temp dir) and a real event loop: what arrives is handed over in order and byte for byte,
// the queue and the datagram size are bounded and every loss is counted, unix socket paths are
// handled safely, and a released receiver survives for a rebuilt check, then closes.
#include "agent/io/datagram_receiver.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "agent/base/clock.h"
#include "agent/io/event_loop.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch {
namespace {

using testing::FreeTcpPort;

void SendUdp(int port, const std::string& data) {
  UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(
      sendto(fd.get(), data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a),
      static_cast<ssize_t>(data.size()));
}

void SendUnix(const std::string& path, const std::string& data) {
  UniqueFd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(
      sendto(fd.get(), data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a),
      static_cast<ssize_t>(data.size()));
}

std::vector<std::string> DrainAll(DatagramReceiver& r) {
  std::vector<std::string> got;
  r.ReadPending();
  r.Drain([&](std::string_view d) { got.emplace_back(d); });
  return got;
}

class DatagramReceiverTest : public ::testing::Test {
 protected:
  SystemClock clock_;
  EventLoop loop_{clock_};
  testing::TempDir dir_;
};

TEST_F(DatagramReceiverTest, AddressesAreValidated) {
  EXPECT_TRUE(ParseDatagramAddress("udp://127.0.0.1:5514").ok());
  EXPECT_TRUE(ParseDatagramAddress("udp://[::1]:5514").ok());
  EXPECT_TRUE(ParseDatagramAddress("unix:///run/gw.sock").ok());
  EXPECT_FALSE(ParseDatagramAddress("udp://127.0.0.1").ok());
  EXPECT_FALSE(ParseDatagramAddress("udp://127.0.0.1:0").ok());
  EXPECT_FALSE(ParseDatagramAddress("udp://127.0.0.1:99999").ok());
  EXPECT_FALSE(ParseDatagramAddress("udp://example.com:514").ok());
  EXPECT_FALSE(ParseDatagramAddress("tcp://127.0.0.1:514").ok());
  EXPECT_FALSE(ParseDatagramAddress("unix://relative.sock").ok());
  EXPECT_FALSE(ParseDatagramAddress("unix:///" + std::string(200, 'a')).ok());
}

// Any bytes (invalid UTF-8, NUL, no newline) come out exactly as sent, in order; the loop reads
// them when it runs, the owner's ReadPending when it does not.
TEST_F(DatagramReceiverTest, UdpDatagramsArriveInOrderByteForByte) {
  int port = FreeTcpPort();
  auto r = DatagramReceiver::Open(loop_, {"udp://127.0.0.1:" + std::to_string(port)});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const std::vector<std::string> sent = {"<190>first", std::string("\xff\xfe\0x", 4), "", "third"};
  for (const auto& d : sent) SendUdp(port, d);
  loop_.RunOnce(std::chrono::milliseconds(200));  // the loop's own read
  EXPECT_EQ(DrainAll(**r), sent);
  EXPECT_EQ((*r)->counters().received, 4u);
  EXPECT_EQ((*r)->queued_bytes(), 0u);
  EXPECT_EQ(DrainAll(**r), std::vector<std::string>{});
}

TEST_F(DatagramReceiverTest, QueueAndDatagramSizeAreBoundedAndLossesCounted) {
  int port = FreeTcpPort();
  DatagramReceiver::Options o{"udp://127.0.0.1:" + std::to_string(port)};
  o.max_queue_bytes = 100;
  o.max_datagram = 64;
  auto r = DatagramReceiver::Open(loop_, o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  for (int i = 0; i < 5; ++i) SendUdp(port, std::string(40, 'a' + i));  // two fit in 100 bytes
  SendUdp(port, std::string(65, 'x'));                                  // one byte too long
  SendUdp(port, std::string(65000, 'y'));                               // far too long
  auto got = DrainAll(**r);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], std::string(40, 'a'));
  EXPECT_EQ(got[1], std::string(40, 'b'));
  EXPECT_EQ((*r)->counters().dropped, 3u);
  EXPECT_EQ((*r)->counters().too_long, 2u);
  auto delta = (*r)->TakeNewCounts();
  EXPECT_EQ(delta.received, 2u);
  EXPECT_EQ(delta.dropped, 3u);
  EXPECT_EQ(delta.too_long, 2u);
  SendUdp(port, std::string(64, 'z'));  // exactly max_datagram, and the queue has room again
  EXPECT_EQ(DrainAll(**r), std::vector<std::string>{std::string(64, 'z')});
  delta = (*r)->TakeNewCounts();
  EXPECT_EQ(delta.received, 1u);
  EXPECT_EQ(delta.dropped, 0u);
}

TEST_F(DatagramReceiverTest, UnixSocketReplacesAStaleSocketNeverAFileAndIsRemovedOnClose) {
  std::string path = dir_.path() + "/gw.sock";
  {
    auto stale = DatagramReceiver::Open(loop_, {"unix://" + path});
    ASSERT_TRUE(stale.ok()) << stale.error().message;
    EXPECT_TRUE(std::filesystem::is_socket(path));
  }
  EXPECT_FALSE(std::filesystem::exists(path));  // removed on close
  {
    // A stale socket file at the path (bound by a process that is gone) is replaced.
    UniqueFd old(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    ASSERT_EQ(bind(old.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  }
  ASSERT_TRUE(std::filesystem::is_socket(path));  // left behind, as by a crashed agent
  {
    auto r = DatagramReceiver::Open(loop_, {"unix://" + path});
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::others_write,
              std::filesystem::perms::others_write);  // nginx's workers run as another user
    SendUnix(path, "<187>one");
    SendUnix(path, "<190>two");
    EXPECT_EQ(DrainAll(**r), (std::vector<std::string>{"<187>one", "<190>two"}));
  }
  // Anything but a socket at the path is never removed.
  std::ofstream(dir_.path() + "/file.log") << "keep me\n";
  auto refused = DatagramReceiver::Open(loop_, {"unix://" + dir_.path() + "/file.log"});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("not a socket"), std::string::npos);
  EXPECT_TRUE(std::filesystem::is_regular_file(dir_.path() + "/file.log"));
}

TEST_F(DatagramReceiverTest, PortInUseIsAnErrorNamingTheAddress) {
  int port = FreeTcpPort();
  std::string listen = "udp://127.0.0.1:" + std::to_string(port);
  auto first = DatagramReceiver::Open(loop_, {listen});
  ASSERT_TRUE(first.ok());
  auto second = DatagramReceiver::Open(loop_, {listen});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().message, "bind " + listen + ": Address already in use");
}

// A check rebuilt by a reload takes over the same socket with what queued meanwhile; one nobody
// takes over closes after the grace period and frees its address.
TEST_F(DatagramReceiverTest, ReleasedReceiverIsTakenOverOrClosedAfterTheGrace) {
  int port = FreeTcpPort();
  std::string listen = "udp://127.0.0.1:" + std::to_string(port);
  DatagramReceivers receivers;
  auto a = receivers.Acquire(loop_, {listen});
  ASSERT_TRUE(a.ok()) << a.error().message;
  DatagramReceiver* first = a->get();
  receivers.Release(std::move(*a), std::chrono::milliseconds(50));
  SendUdp(port, "while reloading");
  auto b = receivers.Acquire(loop_, {listen});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->get(), first);
  EXPECT_EQ(DrainAll(**b), std::vector<std::string>{"while reloading"});
  for (int i = 0; i < 5; ++i) loop_.RunOnce(std::chrono::milliseconds(20));  // past the grace
  EXPECT_FALSE(DatagramReceiver::Open(loop_, {listen}).ok());  // still held: taken over

  receivers.Release(std::move(*b), std::chrono::milliseconds(50));
  for (int i = 0; i < 10; ++i) loop_.RunOnce(std::chrono::milliseconds(20));
  EXPECT_TRUE(DatagramReceiver::Open(loop_, {listen}).ok());  // closed: the port is free
}

}  // namespace
}  // namespace gatewatch
