#!/usr/bin/python3
"""An HTTP/1.1 backend that keeps connections alive and closes one after IDLE seconds without a
request, like gunicorn's or Node's keep-alive timeout: what nginx's upstream keepalive meets.

Usage: keepalive_server.py ADDRESS IDLE_SECONDS. Prints the port it listens on, then serves
until killed. Every request (no body expected) gets 200 "ok\\n" with Content-Length.
"""
import socket
import sys
import threading


def serve(conn, idle):
    conn.settimeout(idle)
    buf = b""
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
                if len(buf) > 1 << 20:
                    return
            _, buf = buf.split(b"\r\n\r\n", 1)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                         b"Content-Length: 3\r\n\r\nok\n")
    except (socket.timeout, OSError):
        pass
    finally:
        conn.close()


def main():
    address, idle = sys.argv[1], float(sys.argv[2])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((address, 0))
    listener.listen(64)
    print(listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, idle), daemon=True).start()


if __name__ == "__main__":
    main()
