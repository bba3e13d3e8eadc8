"""A fake Anthropic Messages API on 127.0.0.1 for running Claude Code itself in tests.

It answers `POST /v1/messages` (streamed SSE or plain JSON, as the request's `stream` asks) with one text
block and the usage a test sets, `POST /v1/messages/count_tokens`, and 404 (with an Anthropic-shaped error)
for anything else. Every request is recorded (path, headers without credentials, JSON body).

    with FakeAnthropic() as api:
        api.reply = Reply(usage=Usage(input_tokens=1_000_000), speed="fast")
        ... ANTHROPIC_BASE_URL=api.url ...
        api.requests  # what Claude Code sent

The server runs on a daemon thread of the test process: it stops on leaving the `with`, and dies with the
process if the test is killed.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET_HEADERS = frozenset({"x-api-key", "authorization", "proxy-authorization", "cookie"})
_ids = itertools.count(1)


@dataclass(frozen=True)
class Usage:
    """The usage a response reports. `cache_creation_input_tokens` defaults to the sum of the split."""

    input_tokens: int = 10
    output_tokens: int = 5
    cache_read_input_tokens: int = 0
    ephemeral_5m_input_tokens: int = 0
    ephemeral_1h_input_tokens: int = 0
    cache_creation_input_tokens: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # more usage fields, e.g. {"inference_geo": "us"}

    def as_json(self, speed: str) -> dict[str, Any]:
        writes = self.cache_creation_input_tokens
        if writes is None:
            writes = self.ephemeral_5m_input_tokens + self.ephemeral_1h_input_tokens
        usage: dict[str, Any] = {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": writes,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation": {"ephemeral_5m_input_tokens": self.ephemeral_5m_input_tokens,
                               "ephemeral_1h_input_tokens": self.ephemeral_1h_input_tokens},
            "output_tokens": self.output_tokens,
            "service_tier": "standard",
        }
        if speed:
            usage["speed"] = speed
        return usage | self.extra


@dataclass(frozen=True)
class Reply:
    """One response: its usage; its `usage.speed` (None answers as the real API does: "fast" when the
    request asked for fast mode, else "standard"; "" leaves the field out); the model it names (None
    echoes the requested one); its text; extra response headers (e.g. rate limits); an error status."""

    usage: Usage = field(default_factory=Usage)
    speed: str | None = None
    model: str | None = None
    text: str = "Hello from the fake API."
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200  # anything else answers an Anthropic-shaped error of that status


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text when it is not JSON, or None


class FakeAnthropic:
    """`reply` answers every message request, unless `replies` (a per-request function) is set."""

    def __init__(self, reply: Reply | None = None) -> None:
        self.reply = reply or Reply()
        self.replies: Callable[[Request], Reply] | None = None
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()  # open keep-alive connections, closed on exit
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-anthropic", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def messages(self) -> list[Request]:
        """The `POST /v1/messages` requests, in order."""
        with self._lock:
            return [r for r in self.requests if r.path.split("?")[0] == "/v1/messages"]

    def __enter__(self) -> FakeAnthropic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        with self._lock:
            open_connections = list(self._connections)
        for connection in open_connections:  # ends the handler threads waiting for a next request
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join(5)

    def _record(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
        return self.replies(request) if self.replies is not None else self.reply


def message_json(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    speed = ("fast" if body.get("speed") == "fast" else "standard") if reply.speed is None else reply.speed
    return {"id": f"msg_fake{next(_ids):020d}", "type": "message", "role": "assistant",
            "model": reply.model or str(body.get("model", "")), "content": [{"type": "text", "text": reply.text}],
            "stop_reason": "end_turn", "stop_sequence": None, "usage": reply.usage.as_json(speed)}


def message_events(reply: Reply, body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The SSE events of a streamed message, as the real API sends them: the input side of the usage in
    message_start (output_tokens 1 so far), the final cumulative usage in message_delta."""
    message = message_json(reply, body)
    usage = message["usage"]
    start = message | {"content": [], "stop_reason": None, "usage": usage | {"output_tokens": 1}}
    yield "message_start", {"type": "message_start", "message": start}
    yield "content_block_start", {"type": "content_block_start", "index": 0,
                                  "content_block": {"type": "text", "text": ""}}
    yield "ping", {"type": "ping"}
    yield "content_block_delta", {"type": "content_block_delta", "index": 0,
                                  "delta": {"type": "text_delta", "text": reply.text}}
    yield "content_block_stop", {"type": "content_block_stop", "index": 0}
    final = {k: v for k, v in usage.items() if k not in ("cache_creation", "service_tier", "speed")}
    yield "message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                            "usage": final}
    yield "message_stop", {"type": "message_stop"}


def _error(status: int, message: str) -> dict[str, Any]:
    kind = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
            429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def _handler(api: FakeAnthropic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 60  # an idle keep-alive connection ends by itself

        def setup(self) -> None:
            super().setup()
            with api._lock:
                api._connections.add(self.connection)

        def finish(self) -> None:
            with api._lock:
                api._connections.discard(self.connection)
            super().finish()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (the base class's name)
            pass

        def _read(self) -> Request:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw
            headers = {k.lower(): v for k, v in self.headers.items() if k.lower() not in SECRET_HEADERS}
            return Request(self.command, self.path, headers, body)

        def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("request-id", f"req_fake{next(_ids):020d}")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, value: Any, headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(value).encode(), "application/json", headers)

        def do_POST(self) -> None:
            request = self._read()
            path = request.path.split("?")[0]
            body = request.body if isinstance(request.body, dict) else {}
            if path == "/v1/messages/count_tokens":
                api._record(request)
                self._json(200, {"input_tokens": len(json.dumps(body)) // 4})
            elif path == "/v1/messages":
                reply = api._record(request)
                if reply.status != 200:
                    self._json(reply.status, _error(reply.status, "fake error"), reply.headers)
                elif body.get("stream"):
                    stream = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n"
                                     for name, data in message_events(reply, body))
                    self._send(200, stream.encode(), "text/event-stream", {"Cache-Control": "no-cache"} | reply.headers)
                else:
                    self._json(200, message_json(reply, body), reply.headers)
            else:
                api._record(request)
                self._json(404, _error(404, f"no such endpoint: {request.path}"))

        def do_GET(self) -> None:
            api._record(self._read())
            self._json(404, _error(404, f"no such endpoint: {self.path}"))

        do_PUT = do_DELETE = do_PATCH = do_GET

    return Handler
