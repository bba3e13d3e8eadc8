"""A session bus that completes D-Bus authentication, then never answers (a wedged bus).

Usage: python wedged_bus.py SOCKET_PATH
Prints "ready" once listening, and "waiting" each time a client has gone past authentication
(it then waits for the reply to Hello that never comes).
"""

from __future__ import annotations

import socket
import sys
import threading


def serve(conn: socket.socket) -> None:
    try:
        while data := conn.recv(4096):
            if b"AUTH" in data:
                conn.sendall(b"OK 0123456789abcdef0123456789abcdef\r\n")
            elif b"BEGIN" in data:
                print("waiting", flush=True)
    except OSError:
        pass


def main() -> None:
    server = socket.socket(socket.AF_UNIX)
    server.bind(sys.argv[1])
    server.listen(16)
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
