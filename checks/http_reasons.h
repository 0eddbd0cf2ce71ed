// Pure mappings from what libcurl and the server said to the bounded Reason taxonomy, so that an
// HTTP failure ("502 Bad Gateway", a refused connect, a bad certificate) names its cause.
//
// No I/O and no state: table-tested in tests/unit/http_reasons_test.cc.
#pragma once

#include <curl/curl.h>

#include <string>
#include <string_view>

#include "checks/api/reason.h"

namespace gatewatch {

// Reason for a transfer that ended with `code` != CURLE_OK.
//   os_errno:  CURLINFO_OS_ERRNO (0 if unknown); refines CURLE_COULDNT_CONNECT and TLS errors.
//   connected: TCP was established (CONNECT_TIME_T > 0, or a PRIMARY_IP recorded: curl 7.88
//              reports CONNECT_TIME_T only once TLS is done too); splits
//              CURLE_OPERATION_TIMEDOUT into connect_timeout and timeout.
//   is_https:  the failing request was https; a TLS-level error on an established https
//              connection (no socket errno) is a TLS problem, not a reset.
// Returns Reason::kNone for CURLE_OK. Codes of protocols other than http/https (which the check
// never enables) fall into the documented default, protocol_error.
Reason ReasonForCurlError(CURLcode code, long os_errno, bool connected, bool is_https);

// Whether a failed transfer hit one of libcurl's limits on what the server sends, which 7.88.1
// reports with codes that otherwise mean an agent fault or a reset (measured with curl 7.88.1):
//   - one response header line over 100 KB (CURL_MAX_HTTP_HEADER): CURLE_OUT_OF_MEMORY with an
//     empty error text, on an established connection;
//   - all response headers over 300 KB: CURLE_RECV_ERROR "Too large response headers: N > 307200".
// Such a failure is the target's (reason invalid_header), never the agent's internal_error.
bool HitCurlHeaderLimit(CURLcode code, std::string_view error, bool connected);

// Reason for a failed name lookup, from the c-ares status: ARES_ENOTFOUND -> dns_nxdomain,
// ARES_ENODATA -> dns_nodata, ARES_ESERVFAIL -> dns_servfail, ARES_EREFUSED -> dns_refused,
// ARES_ETIMEOUT -> dns_timeout, anything else but ARES_SUCCESS -> dns_error.
// Returns Reason::kNone for ARES_SUCCESS (an empty answer is the caller's dns_nodata).
Reason ReasonForResolveStatus(int ares_status);
// The Reason of an unexpected status and the `code` label schemes: checks/api/http_status.h.

}  // namespace gatewatch
