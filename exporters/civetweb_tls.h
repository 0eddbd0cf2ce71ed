// A repair for Debian 12's civetweb 1.15 serving TLS with OpenSSL 3.
//
// civetweb dlopen()s libssl.so and fills a table of OpenSSL functions by name. One of them,
// SSL_get_peer_certificate, is no longer exported by OpenSSL 3 (it became
// SSL_get1_peer_certificate, same contract: a new reference the caller frees); civetweb leaves
// that entry null and calls it after every TLS handshake, so the process dies on the first https
// connection. After civetweb has loaded OpenSSL (mg_init_library(MG_FEATURES_TLS)) and before it
// accepts, this finds that one null entry in civetweb's table and points it at
// SSL_get1_peer_certificate. Nothing is done where OpenSSL still exports the old name.
#pragma once

#include <string>

namespace gatewatch {

// True when civetweb can serve TLS without that crash (repaired, or nothing to repair); false
// with *error when the entry could not be found, so the caller refuses TLS instead of crashing
// later. Call once, from one thread, after mg_init_library(MG_FEATURES_TLS).
bool RepairCivetwebTls(std::string* error);

}  // namespace gatewatch
