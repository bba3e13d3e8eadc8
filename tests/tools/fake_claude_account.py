"""A fake of the Claude account's API (shared/ACCOUNT_API.md) on 127.0.0.1, and what it can do wrong.

It answers `GET /api/oauth/usage`, `.../organizations/ORG/prepaid/credits` and
`.../organizations/ORG/overage_credit_grant` with what a test sets per part ("usage", "prepaid",
"grant"): a JSON document (SHAPES has the ones seen, and variations), a status, a redirect, a
huge or endless body, a body or headers trickled a byte at a time, no answer at all, or bytes
that are not HTTP. Every request is recorded: method, path, the Host header, every header.

    with FakeAccount() as api:
        api.set("usage", Json(SHAPES["usage-eur"]))
        api.set("prepaid", Status(429, headers={"Retry-After": "120"}))
        ... [account] api_base = api.url ...
        api.requests

By hand, for a walk through the CLI:  python tests/tools/fake_claude_account.py --port 8765
(then `GET /_fake/PART/SHAPE` switches a part to a shape of SHAPES, or to one of the failures
named in FAILURES.) The server runs on daemon threads; it stops on leaving the `with`, after
`lifetime` seconds in any case, and with the process.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ORG = "5f0c6f8e-1d2b-4c3a-9e8f-0a1b2c3d4e5f"

SHAPES: dict[str, Any] = {
    # /api/oauth/usage
    "usage-eur": {"five_hour": {"utilization": 24.0, "resets_at": "2026-01-02T19:59:59+00:00"}, "seven_day": None,
                  "extra_usage": {"is_enabled": True, "monthly_limit": 400000, "used_credits": 10600,
                                  "utilization": 2.6, "currency": "EUR", "disabled_reason": None}},
    "usage-on": {"extra_usage": {"is_enabled": True, "monthly_limit": 5000, "used_credits": 1234, "utilization": 24.7}},
    "usage-off": {"extra_usage": {"is_enabled": False, "monthly_limit": 5000, "used_credits": 0,
                                  "disabled_reason": "user_disabled", "currency": "USD"}},
    "usage-spend": {"extra_usage": {"is_enabled": True, "utilization": 10.0},
                    "spend": {"used": {"amount_minor": 1050, "currency": "USD", "exponent": 2},
                              "limit": {"amount_minor": 10000, "currency": "USD", "exponent": 2},
                              "cap": None, "balance": {"amount_minor": 3925, "currency": "USD", "exponent": 2}},
                    "limits": []},
    "usage-decimal-places": {"extra_usage": {"is_enabled": True, "monthly_limit": 40000, "used_credits": 1060,
                                             "currency": "EUR", "decimal_places": 3}},
    "usage-nulls": {"five_hour": None, "extra_usage": {"is_enabled": None, "monthly_limit": None,
                                                       "used_credits": None, "currency": None}},
    "usage-no-extra": {"five_hour": {"utilization": 3.0}},
    "usage-wrong-types": {"extra_usage": {"is_enabled": "yes", "monthly_limit": "lots", "used_credits": 12.5}},
    # /api/oauth/organizations/ORG/prepaid/credits
    "prepaid-usd": {"amount": 6036, "currency": "USD", "auto_reload_settings": None,
                    "next_expires_at": "2026-09-19T00:00:00Z",
                    "promo_tranches": [{"remaining_amount_minor_units": 6034, "currency": "USD",
                                        "expires_at": "2026-09-19T00:00:00Z"}], "tranches": []},
    "prepaid-money": {"balance": {"money": {"amount_minor": 2550, "currency": "EUR", "exponent": 2}},
                      "promo_tranches": [{"remaining_amount_minor_units": 2000, "currency": "EUR",
                                          "expires_at": "2026-07-01T07:00:00+00:00", "granted_amount_minor_units": 2000,
                                          "granted_at": "2026-04-02T07:00:00Z", "name": "Usage credit, April 2026"}]},
    "prepaid-two": {"amount": 15000, "currency": "USD",
                    "promo_tranches": [{"remaining_amount_minor_units": 5000, "currency": "USD",
                                        "expires_at": "2026-04-07T16:30:00Z"},
                                       {"remaining_amount_minor_units": 10000, "currency": "USD",
                                        "expires_at": "2026-07-02T16:00:00Z", "name": "Max 5x credit"}]},
    "prepaid-nulls": {"amount": None, "currency": None, "promo_tranches": None},
    "prepaid-partial": {"amount": 900, "currency": "USD",
                        "promo_tranches": [{"currency": "USD", "expires_at": "2026-09-19T00:00:00Z"},
                                           {"remaining_amount_minor_units": 900, "currency": "USD",
                                            "expires_at": "tomorrow"}, "junk"]},
    # /api/oauth/organizations/ORG/overage_credit_grant
    "grant-offer": {"available": True, "eligible": True, "granted": False, "amount_minor_units": 2000,
                    "currency": "USD", "expires_at": "2026-04-17T06:59:00Z"},
    "grant-none": {"available": False, "eligible": False, "granted": False},
}
DEFAULTS = {"usage": "usage-on", "prepaid": "prepaid-usd", "grant": "grant-none"}


@dataclass
class Json:
    document: Any
    status: int = 200


@dataclass
class Status:
    status: int
    body: bytes = b'{"type": "error"}'
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Redirect:
    location: str
    status: int = 302


@dataclass
class Huge:
    size: int = 10 * 1024 * 1024
    declared: bool = True  # a Content-Length; else chunked, and endless if size is 0


@dataclass
class Trickle:
    interval: float = 0.2  # seconds between bytes, for ever (until the server stops)
    headers_too: bool = False  # trickle the header lines, not only the body


@dataclass
class Hang:
    """Accept the connection and never answer."""


@dataclass
class Garbage:
    """Bytes that are not HTTP, then the connection is closed."""


FAILURES: dict[str, Any] = {
    "401": Status(401), "403": Status(403), "404": Status(404), "500": Status(500), "503": Status(503),
    "429": Status(429, headers={"Retry-After": "120"}), "html": Json("<html>", 200),
    "redirect": None, "huge": Huge(), "endless": Huge(0, declared=False), "trickle": Trickle(),
    "trickle-headers": Trickle(headers_too=True), "hang": Hang(), "garbage": Garbage(),
}


@dataclass
class Recorded:
    method: str
    path: str
    host: str
    headers: dict[str, str]  # lower-case names


class FakeAccount:
    def __init__(self, lifetime: float = 120.0, port: int = 0, certificate: tuple[str, str] | None = None) -> None:
        self.routes: dict[str, Any] = {part: Json(SHAPES[shape]) for part, shape in DEFAULTS.items()}
        self.requests: list[Recorded] = []
        self.stopping = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        if certificate is not None:  # (cert file, key file): HTTPS with a certificate no client trusts
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*certificate)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.url = f"https://127.0.0.1:{self.port}"
        self.lifetime = lifetime

    def set(self, part: str, behaviour: Any) -> None:
        self.routes[part] = behaviour

    def start(self) -> FakeAccount:
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        timer = threading.Timer(self.lifetime, self.stop)
        timer.daemon = True
        timer.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FakeAccount:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_PATHS = [(re.compile(r"^/api/oauth/usage$"), "usage"),
          (re.compile(r"^/api/oauth/organizations/[^/]+/prepaid/credits$"), "prepaid"),
          (re.compile(r"^/api/oauth/organizations/[^/]+/overage_credit_grant$"), "grant")]


def _handler(fake: FakeAccount) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def do_PATCH(self) -> None:
            self._answer("PATCH")

        def _answer(self, method: str) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            path = self.path.split("?", 1)[0]
            if path.startswith("/_fake/"):
                return self._control(path)
            fake.requests.append(Recorded(method, self.path, headers.get("host", ""), headers))
            part = next((name for pattern, name in _PATHS if pattern.match(path)), None)
            if part is None or method != "GET":
                return self._send(404, b'{"type":"error","error":{"type":"not_found_error"}}')
            behaviour = fake.routes[part]
            if isinstance(behaviour, Json):
                body = behaviour.document.encode() if isinstance(behaviour.document, str) \
                    else json.dumps(behaviour.document).encode()
                self._send(behaviour.status, body, "text/html" if isinstance(behaviour.document, str) else None)
            elif isinstance(behaviour, Status):
                self._send(behaviour.status, behaviour.body, None, behaviour.headers)
            elif isinstance(behaviour, Redirect):
                self._send(behaviour.status, b"", None, {"Location": behaviour.location})
            elif isinstance(behaviour, Huge):
                self._huge(behaviour)
            elif isinstance(behaviour, Trickle):
                self._trickle(behaviour)
            elif isinstance(behaviour, Hang):
                fake.stopping.wait()
                self.close_connection = True
            elif isinstance(behaviour, Garbage):
                self.wfile.write(b"\x00\x01 not http at all\r\n\r\n")
                self.close_connection = True

        def _send(self, status: int, body: bytes, content_type: str | None = None,
                  headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type or "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _huge(self, huge: Huge) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if huge.declared:
                self.send_header("Content-Length", str(huge.size))
            else:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk, sent = b"[" + b"1," * 32767 + b"1", 0
            try:
                while not fake.stopping.is_set() and (huge.size == 0 or sent < huge.size):
                    piece = chunk if huge.size == 0 else chunk[:huge.size - sent]
                    self.wfile.write(piece if huge.declared else b"%x\r\n%s\r\n" % (len(piece), piece))
                    sent += len(piece)
            except OSError:
                pass
            self.close_connection = True

        def _trickle(self, trickle: Trickle) -> None:
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            try:
                if trickle.headers_too:
                    self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                    head = b"X-Slow: " + b"a" * 100000
                else:
                    self.wfile.write(head + b"Content-Length: 100000\r\n\r\n")
                    head = b'{"extra_usage": ' + b" " * 100000
                for byte in head:
                    if fake.stopping.wait(trickle.interval):
                        break
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
            except OSError:
                pass
            self.close_connection = True

        def _control(self, path: str) -> None:
            _, _, part, name = path.split("/", 3)
            if part in fake.routes and name in SHAPES:
                fake.set(part, Json(SHAPES[name]))
            elif part in fake.routes and name in FAILURES:
                fake.set(part, FAILURES[name] or Redirect(f"http://localhost:{fake.port}/api/oauth/usage"))
            else:
                return self._send(404, b"unknown part or shape\n", "text/plain")
            self._send(200, f"{part} is now {name}\n".encode(), "text/plain")

    return Handler


def free_port_refusing() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hosts(requests: list[Recorded]) -> Iterator[str]:
    return (r.host for r in requests)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--lifetime", type=float, default=3600.0, help="seconds before it stops by itself")
    arguments = parser.parse_args()
    fake = FakeAccount(arguments.lifetime, arguments.port).start()
    print(f"fake Claude account at {fake.url} (organization {ORG}); GET /_fake/PART/SHAPE to switch", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        time.sleep(arguments.lifetime)
    fake.stop()
