// Tables for the pure HTTP reason mappings: every row of checks/http_reasons.cc is listed here, so
// a change of mapping is a deliberate change of this file too.
#include "checks/http_reasons.h"

#include <ares.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

namespace gatewatch {
namespace {

struct CurlRow {
  CURLcode code;
  long os_errno;
  bool connected;
  bool is_https;
  Reason want;
};

std::string Describe(const CurlRow& r) {
  return std::string(curl_easy_strerror(r.code)) + " (code " + std::to_string(r.code) + ", errno " +
         std::to_string(r.os_errno) + (r.connected ? ", connected" : "") +
         (r.is_https ? ", https" : "") + ")";
}

TEST(ReasonForCurlErrorTest, Table) {
  const std::vector<CurlRow> rows = {
      {CURLE_OK, 0, true, false, Reason::kNone},
      // Connect failures, by errno.
      {CURLE_COULDNT_CONNECT, ECONNREFUSED, false, false, Reason::kConnectionRefused},
      {CURLE_COULDNT_CONNECT, EHOSTUNREACH, false, false, Reason::kHostUnreachable},
      {CURLE_COULDNT_CONNECT, ENETUNREACH, false, false, Reason::kHostUnreachable},
      {CURLE_COULDNT_CONNECT, ENETDOWN, false, false, Reason::kHostUnreachable},
      {CURLE_COULDNT_CONNECT, EHOSTDOWN, false, false, Reason::kHostUnreachable},
      {CURLE_COULDNT_CONNECT, EACCES, false, false, Reason::kHostUnreachable},
      {CURLE_COULDNT_CONNECT, EPERM, false, false, Reason::kHostUnreachable},
      {CURLE_COULDNT_CONNECT, ETIMEDOUT, false, false, Reason::kConnectTimeout},
      {CURLE_COULDNT_CONNECT, ECONNRESET, false, true, Reason::kConnectionReset},
      {CURLE_COULDNT_CONNECT, EADDRNOTAVAIL, false, false, Reason::kInternalError},
      {CURLE_COULDNT_CONNECT, 0, false, false, Reason::kConnectionRefused},
      {CURLE_COULDNT_CONNECT, EINVAL, false, false, Reason::kConnectionRefused},
      // Timeouts: the phase reached decides.
      {CURLE_OPERATION_TIMEDOUT, 0, false, false, Reason::kConnectTimeout},
      {CURLE_OPERATION_TIMEDOUT, 0, true, false, Reason::kTimeout},
      {CURLE_OPERATION_TIMEDOUT, 0, true, true, Reason::kTimeout},
      // DNS done by curl (redirect targets).
      {CURLE_COULDNT_RESOLVE_HOST, 0, false, false, Reason::kDnsError},
      {CURLE_COULDNT_RESOLVE_PROXY, 0, false, false, Reason::kDnsError},
      // Closed or reset.
      {CURLE_GOT_NOTHING, 0, true, false, Reason::kEmptyReply},
      {CURLE_GOT_NOTHING, 0, true, true, Reason::kEmptyReply},
      {CURLE_RECV_ERROR, ECONNRESET, true, false, Reason::kConnectionReset},
      {CURLE_SEND_ERROR, EPIPE, true, false, Reason::kConnectionReset},
      {CURLE_RECV_ERROR, 0, true, false, Reason::kConnectionReset},
      {CURLE_RECV_ERROR, EPIPE, true, true, Reason::kConnectionReset},
      {CURLE_RECV_ERROR, 0, true, true, Reason::kTlsHandshake},  // TLS alert after handshake
      {CURLE_SEND_ERROR, 0, true, true, Reason::kTlsHandshake},
      {CURLE_RECV_ERROR, 0, false, true, Reason::kConnectionReset},
      {CURLE_PARTIAL_FILE, 0, true, false, Reason::kConnectionReset},
      // TLS.
      {CURLE_SSL_CONNECT_ERROR, 0, true, true, Reason::kTlsHandshake},
      {CURLE_SSL_CONNECT_ERROR, ECONNRESET, true, true, Reason::kConnectionReset},
      {CURLE_SSL_CIPHER, 0, true, true, Reason::kTlsHandshake},
      {CURLE_USE_SSL_FAILED, 0, true, true, Reason::kTlsHandshake},
      {CURLE_SSL_SHUTDOWN_FAILED, 0, true, true, Reason::kTlsHandshake},
      {CURLE_SSL_CLIENTCERT, 0, true, true, Reason::kTlsHandshake},
      {CURLE_PEER_FAILED_VERIFICATION, 0, true, true, Reason::kTlsCertificate},
      {CURLE_SSL_CACERT_BADFILE, 0, true, true, Reason::kTlsCertificate},
      {CURLE_SSL_CERTPROBLEM, 0, true, true, Reason::kTlsCertificate},
      {CURLE_SSL_ISSUER_ERROR, 0, true, true, Reason::kTlsCertificate},
      {CURLE_SSL_CRL_BADFILE, 0, true, true, Reason::kTlsCertificate},
      {CURLE_SSL_PINNEDPUBKEYNOTMATCH, 0, true, true, Reason::kTlsCertificate},
      {CURLE_SSL_INVALIDCERTSTATUS, 0, true, true, Reason::kTlsCertificate},
      // Protocol.
      {CURLE_WEIRD_SERVER_REPLY, 0, true, false, Reason::kProtocolError},
      {CURLE_UNSUPPORTED_PROTOCOL, 0, true, false, Reason::kProtocolError},
      {CURLE_URL_MALFORMAT, 0, true, false, Reason::kProtocolError},
      {CURLE_HTTP2, 0, true, true, Reason::kProtocolError},
      {CURLE_HTTP2_STREAM, 0, true, true, Reason::kProtocolError},
      {CURLE_HTTP3, 0, true, true, Reason::kProtocolError},
      {CURLE_QUIC_CONNECT_ERROR, 0, false, true, Reason::kProtocolError},
      {CURLE_BAD_CONTENT_ENCODING, 0, true, false, Reason::kProtocolError},
      {CURLE_HTTP_RETURNED_ERROR, 0, true, false, Reason::kProtocolError},
      {CURLE_RANGE_ERROR, 0, true, false, Reason::kProtocolError},
      {CURLE_BAD_DOWNLOAD_RESUME, 0, true, false, Reason::kProtocolError},
      {CURLE_LOGIN_DENIED, 0, true, false, Reason::kProtocolError},
      {CURLE_AUTH_ERROR, 0, true, false, Reason::kProtocolError},
      {CURLE_REMOTE_ACCESS_DENIED, 0, true, false, Reason::kProtocolError},
      {CURLE_PROXY, 0, true, false, Reason::kProtocolError},
      {CURLE_TOO_MANY_REDIRECTS, 0, true, false, Reason::kRedirectLimit},
      // Body limit.
      {CURLE_WRITE_ERROR, 0, true, false, Reason::kBodyTooLarge},
      {CURLE_FILESIZE_EXCEEDED, 0, true, false, Reason::kBodyTooLarge},
      // The agent's own failures.
      {CURLE_FAILED_INIT, 0, false, false, Reason::kInternalError},
      {CURLE_NOT_BUILT_IN, 0, false, false, Reason::kInternalError},
      {CURLE_OUT_OF_MEMORY, 0, false, false, Reason::kInternalError},
      {CURLE_READ_ERROR, 0, true, false, Reason::kInternalError},
      {CURLE_SEND_FAIL_REWIND, 0, true, false, Reason::kInternalError},
      {CURLE_ABORTED_BY_CALLBACK, 0, true, false, Reason::kInternalError},
      {CURLE_BAD_FUNCTION_ARGUMENT, 0, false, false, Reason::kInternalError},
      {CURLE_INTERFACE_FAILED, 0, false, false, Reason::kInternalError},
      {CURLE_UNKNOWN_OPTION, 0, false, false, Reason::kInternalError},
      {CURLE_SETOPT_OPTION_SYNTAX, 0, false, false, Reason::kInternalError},
      {CURLE_SSL_ENGINE_NOTFOUND, 0, false, true, Reason::kInternalError},
      {CURLE_SSL_ENGINE_SETFAILED, 0, false, true, Reason::kInternalError},
      {CURLE_SSL_ENGINE_INITFAILED, 0, false, true, Reason::kInternalError},
      {CURLE_AGAIN, 0, true, false, Reason::kInternalError},
      {CURLE_CHUNK_FAILED, 0, true, false, Reason::kInternalError},
      {CURLE_NO_CONNECTION_AVAILABLE, 0, false, false, Reason::kInternalError},
      {CURLE_RECURSIVE_API_CALL, 0, false, false, Reason::kInternalError},
      {CURLE_UNRECOVERABLE_POLL, 0, false, false, Reason::kInternalError},
      // Default: codes of protocols never enabled, and unknown future codes.
      {CURLE_FTP_WEIRD_PASV_REPLY, 0, true, false, Reason::kProtocolError},
      {CURLE_TFTP_NOTFOUND, 0, true, false, Reason::kProtocolError},
      {CURLE_SSH, 0, true, false, Reason::kProtocolError},
      {CURLE_RTSP_CSEQ_ERROR, 0, true, false, Reason::kProtocolError},
      {CURL_LAST, 0, true, false, Reason::kProtocolError},  // a code newer than this table
  };
  for (const CurlRow& row : rows) {
    EXPECT_EQ(ReasonName(ReasonForCurlError(row.code, row.os_errno, row.connected, row.is_https)),
              ReasonName(row.want))
        << Describe(row);
  }
}

TEST(ReasonForResolveStatusTest, Table) {
  const std::vector<std::pair<int, Reason>> rows = {
      {ARES_SUCCESS, Reason::kNone},          {ARES_ENOTFOUND, Reason::kDnsNxdomain},
      {ARES_ENODATA, Reason::kDnsNodata},     {ARES_ESERVFAIL, Reason::kDnsServfail},
      {ARES_EREFUSED, Reason::kDnsRefused},   {ARES_ETIMEOUT, Reason::kDnsTimeout},
      {ARES_EBADRESP, Reason::kDnsError},     {ARES_ECONNREFUSED, Reason::kDnsError},
      {ARES_EBADNAME, Reason::kDnsError},     {ARES_ENONAME, Reason::kDnsError},
      {ARES_EFORMERR, Reason::kDnsError},     {ARES_ENOTIMP, Reason::kDnsError},
      {ARES_EDESTRUCTION, Reason::kDnsError},
  };
  for (const auto& [status, want] : rows) {
    EXPECT_EQ(ReasonName(ReasonForResolveStatus(status)), ReasonName(want))
        << ares_strerror(status);
  }
}

// What curl 7.88.1 reports for a server's oversized headers (measured against a raw server): the
// target's fault, invalid_header, never internal_error.
TEST(HitCurlHeaderLimitTest, Table) {
  EXPECT_TRUE(HitCurlHeaderLimit(CURLE_OUT_OF_MEMORY, "", true));    // one 200 KB header line
  EXPECT_FALSE(HitCurlHeaderLimit(CURLE_OUT_OF_MEMORY, "", false));  // before any connection: ours
  EXPECT_TRUE(
      HitCurlHeaderLimit(CURLE_RECV_ERROR, "Too large response headers: 307957 > 307200", true));
  EXPECT_FALSE(HitCurlHeaderLimit(CURLE_RECV_ERROR, "Connection reset by peer", true));
  EXPECT_FALSE(HitCurlHeaderLimit(CURLE_OK, "", true));
}

}  // namespace
}  // namespace gatewatch
