// The gRPC health check's hand-made protobuf and framing, against bytes produced by real gRPC
// (python3-grpcio's serializers give the same), and the mapping of grpc-status and ServingStatus.
#include <gtest/gtest.h>

#include <string>

#include "checks/grpc_check.h"
#include "tests/testlib/config_error.h"

namespace gatewatch {
namespace {

std::string Bytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s.push_back(static_cast<char>(b));
  return s;
}

TEST(GrpcHealthTest, RequestFraming) {
  // An empty HealthCheckRequest is an empty message: the prefix alone.
  EXPECT_EQ(EncodeGrpcHealthRequest(""), Bytes({0, 0, 0, 0, 0}));
  EXPECT_EQ(EncodeGrpcHealthRequest("api"), Bytes({0, 0, 0, 0, 5, 0x0a, 3}) + "api");
  // A name of 200 bytes: a two-byte varint length (200 = 0xc8 0x01).
  std::string long_name(200, 's');
  EXPECT_EQ(EncodeGrpcHealthRequest(long_name),
            Bytes({0, 0, 0, 0, 203, 0x0a, 0xc8, 0x01}) + long_name);
}

TEST(GrpcHealthTest, ResponseDecoding) {
  struct Case {
    const char* what;
    std::string body;
    int status;  // -1: error expected
    const char* error;
  } cases[] = {
      {"SERVING", Bytes({0, 0, 0, 0, 2, 0x08, 1}), 1, ""},
      {"NOT_SERVING", Bytes({0, 0, 0, 0, 2, 0x08, 2}), 2, ""},
      {"SERVICE_UNKNOWN", Bytes({0, 0, 0, 0, 2, 0x08, 3}), 3, ""},
      {"default UNKNOWN (empty message)", Bytes({0, 0, 0, 0, 0}), 0, ""},
      {"length prefix disagrees",
       Bytes({0, 0, 0, 0, 9, 0x12, 2, 'h', 'i', 0x08, 1, 0x1d, 0, 0}) + Bytes({0, 0}), -1,
       "gRPC message says 9 bytes, 11 arrived"},
      {"unknown fields of every wire type",
       Bytes({0, 0, 0, 0, 20, 0x12, 2, 'h', 'i', 0x19, 1,    2, 3,
              4, 5, 6, 7, 8,  0x25, 1, 2,   3,   4,    0x08, 1}),
       1, ""},
      {"short prefix", Bytes({0, 0, 0}), -1, "gRPC message of 3 bytes, shorter than its prefix"},
      {"compressed", Bytes({1, 0, 0, 0, 2, 0x08, 1}), -1,
       "compressed gRPC message (none was offered)"},
      {"truncated varint", Bytes({0, 0, 0, 0, 2, 0x08, 0x80}), -1, "truncated protobuf varint"},
      {"length past the end", Bytes({0, 0, 0, 0, 2, 0x12, 9}), -1,
       "truncated protobuf length-delimited field"},
      {"group wire type", Bytes({0, 0, 0, 0, 1, 0x0b}), -1,
       "protobuf wire type 3 is not supported"},
  };
  for (const Case& c : cases) {
    std::string error;
    std::optional<int> s = DecodeGrpcHealthResponse(c.body, &error);
    if (c.status < 0) {
      EXPECT_FALSE(s.has_value()) << c.what;
      EXPECT_EQ(error, c.error) << c.what;
    } else {
      ASSERT_TRUE(s.has_value()) << c.what << ": " << error;
      EXPECT_EQ(*s, c.status) << c.what;
    }
  }
}

TEST(GrpcHealthTest, StatusesMapToReasons) {
  EXPECT_EQ(ReasonForGrpcStatus(0), Reason::kNone);
  EXPECT_EQ(ReasonForGrpcStatus(14), Reason::kHttp503);          // UNAVAILABLE
  EXPECT_EQ(ReasonForGrpcStatus(8), Reason::kHttp503);           // RESOURCE_EXHAUSTED
  EXPECT_EQ(ReasonForGrpcStatus(4), Reason::kTimeout);           // DEADLINE_EXCEEDED
  EXPECT_EQ(ReasonForGrpcStatus(12), Reason::kProtocolError);    // UNIMPLEMENTED
  EXPECT_EQ(ReasonForGrpcStatus(13), Reason::kHttp5xx);          // INTERNAL
  EXPECT_EQ(ReasonForGrpcStatus(16), Reason::kHttp4xx);          // UNAUTHENTICATED
  EXPECT_EQ(ReasonForGrpcStatus(5), Reason::kUnexpectedStatus);  // NOT_FOUND: unknown service
  EXPECT_EQ(ReasonForServingStatus(1), Reason::kNone);
  EXPECT_EQ(ReasonForServingStatus(2), Reason::kHttp503);
  EXPECT_EQ(ReasonForServingStatus(0), Reason::kUnexpectedStatus);
  EXPECT_EQ(ReasonForServingStatus(3), Reason::kUnexpectedStatus);
  EXPECT_EQ(ServingStatusName(2), "NOT_SERVING");
  EXPECT_EQ(ServingStatusName(9), "UNRECOGNIZED");
}

TEST(GrpcHealthTest, ConfigErrorsNameTheirPath) {
  auto error = [](const std::string& yaml) {
    return testing::CheckConfigErrorOf(GrpcCheckType(), yaml);
  };
  EXPECT_EQ(error("{service: x}"), "checks[0].address: is required");
  EXPECT_EQ(error("{address: 'api.internal'}"),
            "checks[0].address: must be host:port (a port is required)");
  EXPECT_EQ(error("{address: 'api:50051', ca_file: /ca.pem}"),
            "checks[0].ca_file: needs tls: true");
  EXPECT_EQ(error("{address: 'api:50051', service: 'pkg.Svc', tls: true, insecure: true}"),
            "(no error)");
}

}  // namespace
}  // namespace gatewatch
