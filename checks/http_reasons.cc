#include "checks/http_reasons.h"

#include <ares.h>

#include <cerrno>

namespace gatewatch {

namespace {

// CURLE_COULDNT_CONNECT: the errno of the failed connect() says who refused.
Reason ReasonForConnectErrno(long os_errno) {
  switch (os_errno) {
    case ECONNREFUSED:
      return Reason::kConnectionRefused;  // RST to our SYN: nothing listens on the port
    case EHOSTUNREACH:
    case ENETUNREACH:
    case ENETDOWN:
    case EHOSTDOWN:
      return Reason::kHostUnreachable;  // ICMP unreachable or no route
    case EACCES:
    case EPERM:
      // A local firewall rule refused the packet: the network path, not the upstream.
      return Reason::kHostUnreachable;
    case ETIMEDOUT:
      return Reason::kConnectTimeout;  // SYNs unanswered: dropped, or the accept queue is full
    case ECONNRESET:
      // Accepted by the kernel, then reset before curl saw the connect complete (a listener
      // that resets under load, a SYN proxy): the connection was there, then dropped.
      return Reason::kConnectionReset;
    case EADDRNOTAVAIL:
      // No local ephemeral port or source address: the agent's host, not the target.
      return Reason::kInternalError;
    default:
      // Unknown or 0: curl failed every address without a more specific errno; the closest
      // actionable reading is "nothing accepted the connection".
      return Reason::kConnectionRefused;
  }
}

}  // namespace

Reason ReasonForCurlError(CURLcode code, long os_errno, bool connected, bool is_https) {
  switch (code) {
    case CURLE_OK:
      return Reason::kNone;

    // --- Name resolution. Our own c-ares lookup runs first; curl resolves only the targets of
    // redirects to other hosts (threaded resolver) and would-be proxies.
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return Reason::kDnsError;  // curl does not say NXDOMAIN vs SERVFAIL

    // --- Connecting.
    case CURLE_COULDNT_CONNECT:
      return ReasonForConnectErrno(os_errno);
    case CURLE_OPERATION_TIMEDOUT:
      // The same code covers the connect and the total timeout; the phase reached tells them
      // apart. A stalled TLS handshake on an accepted connection counts as `timeout`: the
      // server accepted but is too slow to answer.
      return connected ? Reason::kTimeout : Reason::kConnectTimeout;

    // --- The server closed or reset the connection.
    case CURLE_GOT_NOTHING:
      return Reason::kEmptyReply;  // closed before any response byte: a crashed worker
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
      // On https, a failure with no socket errno is a TLS alert from the peer (e.g. a TLS 1.3
      // "certificate required", which arrives after curl considers the handshake done), not a
      // reset: socket resets always carry ECONNRESET/EPIPE.
      if (is_https && connected && os_errno == 0) return Reason::kTlsHandshake;
      return Reason::kConnectionReset;
    case CURLE_PARTIAL_FILE:
      return Reason::kConnectionReset;  // closed before Content-Length/chunks were complete

    // --- TLS.
    case CURLE_SSL_CONNECT_ERROR:
      // A reset during the handshake is the peer dropping connections, not a TLS setup error.
      if (os_errno == ECONNRESET) return Reason::kConnectionReset;
      return Reason::kTlsHandshake;
    case CURLE_SSL_CIPHER:           // no common cipher/version: server TLS settings
    case CURLE_USE_SSL_FAILED:       // TLS required but not available
    case CURLE_SSL_SHUTDOWN_FAILED:  // broken close_notify exchange
    case CURLE_SSL_CLIENTCERT:       // the server wants a client certificate
      return Reason::kTlsHandshake;
    case CURLE_PEER_FAILED_VERIFICATION:  // expired, wrong name, unknown issuer
    case CURLE_SSL_CACERT_BADFILE:  // our ca_file is unusable: still a certificate setup fault
    case CURLE_SSL_CERTPROBLEM:     // local client certificate problem
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:  // OCSP stapling says revoked/unknown
      return Reason::kTlsCertificate;

    // --- HTTP protocol violations by the server (or a redirect to something we refuse).
    case CURLE_WEIRD_SERVER_REPLY:    // not HTTP (e.g. http:// to a TLS port)
    case CURLE_UNSUPPORTED_PROTOCOL:  // redirect to a non-http(s) scheme, which we refuse
    case CURLE_URL_MALFORMAT:         // our URL is validated at load: only a bad Location gets here
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_QUIC_CONNECT_ERROR:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP_RETURNED_ERROR:  // only with FAILONERROR, which we do not set; kept explicit
    case CURLE_RANGE_ERROR:
    case CURLE_BAD_DOWNLOAD_RESUME:
    case CURLE_LOGIN_DENIED:
    case CURLE_AUTH_ERROR:
    case CURLE_REMOTE_ACCESS_DENIED:
    case CURLE_PROXY:  // proxies are disabled; a proxy handshake failure is still the protocol
      return Reason::kProtocolError;
    case CURLE_TOO_MANY_REDIRECTS:
      return Reason::kRedirectLimit;

    // --- The body limit: WRITE_ERROR is our write callback refusing bytes past body_limit
    // (the only way it fails), FILESIZE_EXCEEDED curl's own Content-Length check.
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
      return Reason::kBodyTooLarge;

    // --- The agent could not run the transfer: blaming the target would be a lie.
    case CURLE_FAILED_INIT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_READ_ERROR:  // we upload nothing; a read callback failure is ours
    case CURLE_SEND_FAIL_REWIND:
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_INTERFACE_FAILED:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_SETOPT_OPTION_SYNTAX:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_AGAIN:
    case CURLE_CHUNK_FAILED:
    case CURLE_NO_CONNECTION_AVAILABLE:
    case CURLE_RECURSIVE_API_CALL:
    case CURLE_UNRECOVERABLE_POLL:
      return Reason::kInternalError;

    default:
      // Codes of protocols the check never enables (FTP, TFTP, SSH, LDAP, RTSP...) and codes
      // added by later libcurl versions. Every agent-side code is listed above, so what is left
      // came from the conversation with the server: protocol_error, a misconfiguration to read
      // in `detail`, rather than `other`, which would blame the agent.
      return Reason::kProtocolError;
  }
}

bool HitCurlHeaderLimit(CURLcode code, std::string_view error, bool connected) {
  if (code == CURLE_RECV_ERROR) {
    return error.find("Too large response headers") != std::string_view::npos ||
           error.find("header too large") != std::string_view::npos;
  }
  // Allocations of a transfer happen at set-up, before the connection: an out-of-memory once
  // the server is talking is curl's dynbuf refusing to grow a header line past 100 KB.
  return code == CURLE_OUT_OF_MEMORY && connected;
}

Reason ReasonForResolveStatus(int ares_status) {
  switch (ares_status) {
    case ARES_SUCCESS:
      return Reason::kNone;
    case ARES_ENOTFOUND:
      return Reason::kDnsNxdomain;
    case ARES_ENODATA:
      return Reason::kDnsNodata;
    case ARES_ESERVFAIL:
      return Reason::kDnsServfail;
    case ARES_EREFUSED:
      return Reason::kDnsRefused;
    case ARES_ETIMEOUT:
      return Reason::kDnsTimeout;
    default:
      return Reason::kDnsError;  // ARES_EBADRESP, ARES_ECONNREFUSED, bad name, no servers...
  }
}
}  // namespace gatewatch
