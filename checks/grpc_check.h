// The "grpc" check type: the standard gRPC health check (grpc.health.v1.Health/Check) over HTTP/2,
// cleartext with prior knowledge or TLS, sent through HttpRun on the shared CurlMulti. The tiny
// protobuf messages and the gRPC message framing are encoded by hand here (pure, table-tested in
// tests/unit/grpc_health_test.cc); grpc-status and the serving status map to reasons.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/base/config_node.h"
#include "checks/api/check_type.h"
#include "checks/api/reason.h"
#include "checks/http_transfer.h"

namespace gatewatch {

// HealthCheckResponse.ServingStatus.
enum class ServingStatus { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };
std::string_view ServingStatusName(int status);  // "SERVING", ..., "unknown(7)" → "UNRECOGNIZED"

// One gRPC message (uncompressed) carrying HealthCheckRequest{service}: 5-byte prefix, then
// field 1 (string) when `service` is not empty.
std::string EncodeGrpcHealthRequest(std::string_view service);

// The ServingStatus value in one gRPC message holding a HealthCheckResponse (a missing field 1 is
// 0, UNKNOWN, as protobuf defaults it). nullopt, with *error, for a compressed or truncated
// message, bytes after it, or protobuf that cannot be walked. Unknown fields are skipped.
std::optional<int> DecodeGrpcHealthResponse(std::string_view body, std::string* error);

// The Reason of a grpc-status other than 0 (OK).
Reason ReasonForGrpcStatus(int grpc_status);
// The Reason of a serving status other than SERVING.
Reason ReasonForServingStatus(int serving_status);

struct GrpcCheckConfig {
  std::shared_ptr<const HttpRequest> request;
  std::string service;
};
std::shared_ptr<const GrpcCheckConfig> ParseGrpcCheckConfig(const ConfigNode& node);

CheckType GrpcCheckType();

struct GrpcMetrics {
  MetricDesc serving_status{"grpc_health_serving_status",
                            MetricKind::kGauge,
                            "ServingStatus of the last health check: 0 UNKNOWN, 1 SERVING, 2 "
                            "NOT_SERVING, 3 SERVICE_UNKNOWN, -1 without an answer.",
                            {}};
  MetricDesc grpc_status{"grpc_status_code",
                         MetricKind::kGauge,
                         "grpc-status of the last health check, -1 without one.",
                         {}};
};
const GrpcMetrics& GrpcCheckMetrics();

}  // namespace gatewatch
