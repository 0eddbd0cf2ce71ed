"""A gRPC server for tests/integration/grpc_check_test.cc, run with Debian's /usr/bin/python3
(python3-grpcio; there is no grpc_health package there, so the health service is a generic
handler over raw bytes). Usage: grpc_health_server.py PORT STATUS_FILE

grpc.health.v1.Health/Check answers, for the service named in the request, the line
"service=STATUS" of STATUS_FILE (re-read on every call, so the test flips it): SERVING,
NOT_SERVING, UNKNOWN, or a gRPC status code name (UNAVAILABLE, ...) to fail the call with.
Services not in the file: NOT_FOUND, as the reference health service does. Prints "ready" once
listening.
"""
import sys
import time
from concurrent import futures

import grpc

SERVING = {"UNKNOWN": 0, "SERVING": 1, "NOT_SERVING": 2, "SERVICE_UNKNOWN": 3}


def parse_request(data):
    # HealthCheckRequest { string service = 1; }: only field 1 matters here.
    service, pos = b"", 0
    while pos < len(data):
        key = data[pos]
        pos += 1
        length = data[pos]
        pos += 1
        if key == 0x0A:
            service = data[pos:pos + length]
        pos += length
    return service.decode()


def statuses(path):
    out = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                name, value = line.strip().split("=", 1)
                out[name] = value
    return out


def main():
    port, status_file = int(sys.argv[1]), sys.argv[2]

    def check(request, context):
        service = parse_request(request)
        value = statuses(status_file).get(service)
        if value is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
        if value not in SERVING:
            context.abort(getattr(grpc.StatusCode, value), "told to fail")
        return bytes([0x08, SERVING[value]])

    handler = grpc.method_handlers_generic_handler(
        "grpc.health.v1.Health",
        {"Check": grpc.unary_unary_rpc_method_handler(check)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port("127.0.0.1:%d" % port)
    server.start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
