// HTTP basic auth against bcrypt hashes (basic_auth_users of the web config), verified with
// libcrypt's crypt_r and compared in constant time.
//
// bcrypt costs ~55 ms (cost 10) to ~215 ms (cost 12) per check: a scrape every second must not pay
// that. A successful verification is remembered as a salted SHA-256-crypt digest of
// "user:password" (salt random per authenticator; the password itself is never kept), so the next
// request with the same credentials costs a fraction of a millisecond. The cache is bounded and is
// dropped with the authenticator when the users change (a reload builds a new one).
//
// Thread-safe: Check() may run on every web worker at once.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

namespace gatewatch {

class BasicAuthenticator {
 public:
  // `users`: user -> bcrypt hash (validated by ParseWebConfig).
  explicit BasicAuthenticator(std::map<std::string, std::string> users);

  // The value of the Authorization header (nullptr if absent). True if it names a user with the
  // right password.
  bool Check(const char* authorization) const;

  // Counters for tests and logs.
  size_t bcrypt_verifications() const;
  size_t cache_hits() const;

  struct Credentials {
    std::string user, password;
  };
  // "Basic base64(user:password)" -> the pair; nullopt for anything else (other schemes, bad
  // base64, no colon, a NUL byte). Exposed for tests.
  static std::optional<Credentials> ParseAuthorization(std::string_view header);
  // Base64 (RFC 4648, with padding or without); nullopt on a character outside the alphabet.
  static std::optional<std::string> DecodeBase64(std::string_view in);
  // Equal contents, in time that depends only on the lengths.
  static bool ConstantTimeEquals(std::string_view a, std::string_view b);

 private:
  std::string CacheKey(const Credentials& c) const;

  static constexpr size_t kMaxCacheEntries = 1024;

  std::map<std::string, std::string> users_;
  std::string cache_salt_;     // "$5$rounds=1000$<random>$": SHA-256-crypt setting
  std::string dummy_setting_;  // bcrypt setting for unknown users, so they cost the same time
  mutable std::mutex mu_;
  mutable std::unordered_set<std::string> cache_;  // guarded by mu_
  mutable size_t bcrypt_ = 0, hits_ = 0;           // guarded by mu_
};

}  // namespace gatewatch
