#include "tests/testlib/nginx.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tests/testlib/http_client.h"

namespace gatewatch::testing {
namespace {

bool Accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

}  // namespace

NginxInstance::NginxInstance(std::string http_block, int worker_connections)
    : http_block_(std::move(http_block)), worker_connections_(worker_connections) {}

NginxInstance::~NginxInstance() { Stop(); }

bool NginxInstance::Start(std::string* error) {
  if (access(kNginxBinary, X_OK) != 0) {
    *error = "nginx is not installed (Debian package nginx-light); deploy/setup.sh installs it";
    return false;
  }
  WriteConf();
  const std::string& d = dir_.path();
  process_ = std::make_unique<Process>(
      std::vector<std::string>{kNginxBinary, "-p", d + "/", "-c", d + "/nginx.conf"});
  std::vector<int> ports;
  const std::string marker = "listen 127.0.0.1:";
  for (size_t at = http_block_.find(marker); at != std::string::npos;
       at = http_block_.find(marker, at + 1)) {
    ports.push_back(std::atoi(http_block_.c_str() + at + marker.size()));
  }
  bool up = WaitFor(
      [&] {
        for (int p : ports) {
          if (!Accepts(p)) return false;
        }
        return true;
      },
      std::chrono::seconds(5));
  if (!up) {
    *error = "nginx did not start listening: " + process_->Stderr() + ErrorLogText();
    return false;
  }
  return true;
}

void NginxInstance::WriteConf() const {
  const std::string& d = dir_.path();
  std::ofstream conf(conf_path());
  conf << "daemon off;\nmaster_process on;\nworker_processes 1;\npid " << d << "/nginx.pid;\n"
       << "error_log " << d << "/error.log info;\n"
       << "events { worker_connections " << worker_connections_ << "; }\n"
       << "http {\n  access_log " << d << "/access.log;\n"
       << "  client_body_temp_path " << d << "/client_body;\n  proxy_temp_path " << d << "/proxy;\n"
       << "  fastcgi_temp_path " << d << "/fastcgi;\n  uwsgi_temp_path " << d << "/uwsgi;\n"
       << "  scgi_temp_path " << d << "/scgi;\n"
       << http_block_ << "\n}\n";
  conf.close();
}

bool NginxInstance::Reload(std::string http_block, std::string* error) {
  http_block_ = std::move(http_block);
  WriteConf();
  // `nginx -t` first: a reload of a broken config would leave the old one running silently.
  Process test({kNginxBinary, "-t", "-q", "-p", dir_.path() + "/", "-c", conf_path()});
  int status = -1;
  if (!test.WaitExit(std::chrono::seconds(10), &status) || status != 0) {
    *error = "nginx -t refused the new config: " + test.Stderr();
    return false;
  }
  if (process_ != nullptr) process_->Signal(SIGHUP);
  return true;
}

void NginxInstance::Stop() {
  if (process_ == nullptr) return;
  process_->Signal(SIGQUIT);
  int status;
  if (!process_->WaitExit(std::chrono::seconds(3), &status)) process_->Signal(SIGKILL);
  process_.reset();
}

void NginxInstance::Reopen() {
  if (process_ != nullptr) process_->Signal(SIGUSR1);
}

std::string NginxInstance::ErrorLogText() const {
  std::ifstream in(error_log());
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace gatewatch::testing
