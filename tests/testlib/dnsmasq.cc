#include "tests/testlib/dnsmasq.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/base/fd.h"
#include "tests/testlib/http_client.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {
namespace {

// True if something answers a DNS query on 127.0.0.1:port within 200 ms.
bool Answers(int port) {
  UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  // A query for "ready.invalid" A.
  const unsigned char query[] = {0x12, 0x34, 1,   0,   0,   1,   0,   0, 0,   0,   0,
                                 0,    5,    'r', 'e', 'a', 'd', 'y', 7, 'i', 'n', 'v',
                                 'a',  'l',  'i', 'd', 0,   0,   1,   0, 1};
  if (sendto(fd.get(), query, sizeof query, 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    return false;
  pollfd p{fd.get(), POLLIN, 0};
  return poll(&p, 1, 200) == 1;
}

}  // namespace

Dnsmasq::Dnsmasq(std::vector<std::string> records) : records_(std::move(records)) {}

Dnsmasq::~Dnsmasq() { process_.reset(); }

bool Dnsmasq::Start(std::string* error) {
  if (access(kDnsmasqBinary, X_OK) != 0) {
    *error = "dnsmasq not installed (dnsmasq-base)";
    return false;
  }
  // dnsmasq binds UDP and TCP on the port: a free TCP port is almost always a free UDP one, and a
  // failed start is retried on another.
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = FreeTcpPort();
    std::vector<std::string> argv = {kDnsmasqBinary,
                                     "--keep-in-foreground",
                                     "--conf-file=/dev/null",
                                     "--port=" + std::to_string(port_),
                                     "--listen-address=127.0.0.1",
                                     "--bind-interfaces",
                                     "--no-resolv",
                                     "--no-hosts",
                                     "--pid-file=",
                                     "--user=root"};
    argv.insert(argv.end(), records_.begin(), records_.end());
    process_ = std::make_unique<Process>(argv);
    if (WaitFor([&] { return Answers(port_); }, std::chrono::seconds(5))) return true;
    *error = "dnsmasq did not answer: " + process_->Stderr();
    process_.reset();
  }
  return false;
}

}  // namespace gatewatch::testing
