// The web config file (--web.config.file) in the format of Prometheus's exporter-toolkit, so the
// file a user already has for node_exporter works here: tls_server_config, basic_auth_users and
// http_server_config.headers. Parsing and validation only; the web server applies the result.
//
// Errors are ConfigError naming the key path (`basic_auth_users.alice: not a bcrypt hash`).
// Where civetweb cannot do what a key asks (RequestClientCert, max_version, curve_preferences),
// the file is refused rather than silently served with weaker settings.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gatewatch {

enum class ClientAuth {
  kNone,              // NoClientCert
  kVerifyIfGiven,     // VerifyClientCertIfGiven: a certificate, if sent, must verify
  kRequireAndVerify,  // RequireAndVerifyClientCert
};

struct TlsServerConfig {
  std::string cert_file, key_file;  // absolute, or relative to the web config file's folder
  ClientAuth client_auth = ClientAuth::kNone;
  std::string client_ca_file;
  int min_version = 12;                    // 10, 11, 12 or 13 (TLS 1.x), exporter-toolkit's TLS12
  std::vector<std::string> cipher_suites;  // OpenSSL names; empty: OpenSSL's default (TLS <= 1.2)

  bool operator==(const TlsServerConfig&) const = default;
};

struct WebConfig {
  std::optional<TlsServerConfig> tls;
  std::map<std::string, std::string> users;                  // user -> bcrypt hash
  std::vector<std::pair<std::string, std::string>> headers;  // added to every response
  std::string source;                                        // file name, for logs

  bool auth_enabled() const { return !users.empty(); }
};

// Parses the file's text. Relative file paths are resolved against `base_dir` (the config file's
// folder, as exporter-toolkit does); files are not opened here. Throws ConfigError.
WebConfig ParseWebConfig(const std::string& text, const std::string& source,
                         const std::string& base_dir);

// Reads and parses `path`, then checks that every named certificate and key file can be read.
WebConfig LoadWebConfigFile(const std::string& path);

// `$2a$`, `$2b$` or `$2y$`, a two-digit cost 04..31, then 53 characters of bcrypt's base64.
bool IsBcryptHash(std::string_view hash);

// exporter-toolkit's (Go) cipher suite name -> OpenSSL's, or "" if it names none OpenSSL knows.
std::string OpenSslCipherName(std::string_view go_name);

}  // namespace gatewatch
