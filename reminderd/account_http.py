"""GET requests to the account's API, bounded as a whole: in a child process that the deadline ends.

A per-read socket timeout does not bound an exchange (a server that trickles a byte a second
never trips it; security H2), and a name lookup cannot be interrupted at all, so the requests
run in a child process (bounded.child_argv) with an address-space cap. It reads the request
list and the token from stdin (never argv or the environment), gives up by itself just before
the deadline, and writes each answer as it comes: a header line of JSON, then the body. What
arrived before the deadline is kept; the parent kills what is left at the deadline.

Only GET, only to the configured host, TLS verified, no redirect followed (a redirect is an
answer like any other: the caller says where it pointed, and nothing is sent there), at most
MAX_BODY bytes of a body. Nothing here logs; the token is in no message.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

from reminderd import __version__
from reminderd.bounded import child_argv, run

MAX_BODY = 1024 * 1024  # bytes of an answer's body: the largest answer seen is a few KB
MARGIN = 0.3  # seconds the child gives back for starting and for the parent to read its answers
MIN_TIME = 0.5  # seconds: with less left, nothing is asked
BETA = "oauth-2025-04-20"


class Answer(NamedTuple):
    """One request's outcome: a status and a body, or why there is none."""

    name: str
    status: int | None = None  # None: no HTTP answer
    body: bytes = b""
    retry_after: str | None = None  # the Retry-After header as sent
    location_host: str | None = None  # where a redirect pointed (not followed)
    content_type: str | None = None
    problem: str | None = None  # why there is no usable answer (no status, or a body too large)


def fetch(base: str, requests: Sequence[tuple[str, str, dict[str, str]]], token: str, deadline: float) -> list[Answer]:
    """GET each (name, path, extra headers) from `base` with the token, at once, all before
    `deadline` (time.monotonic()); an answer for every request, in the same order."""
    seconds = deadline - time.monotonic()
    if seconds < MIN_TIME:
        return [Answer(name, problem="no time was left to ask") for name, _, _ in requests]
    spec = {"base": base, "token": token, "seconds": seconds - MARGIN, "agent": f"reminderd/{__version__}",
            "requests": [{"name": name, "path": path, "headers": headers} for name, path, headers in requests]}
    argv = child_argv("account_http", "child_main")
    argv.insert(1, "-P")  # not the working directory first on its import path: reminderd's own modules
    done = run(argv, timeout=seconds, stdin=json.dumps(spec).encode(),
               max_output=len(requests) * (MAX_BODY + 8192))
    answers = {a.name: a for a in _answers(done.stdout)}
    if done.timed_out:
        missing = f"no answer within {seconds:.0f} s"
    else:
        missing = f"the request could not be made (exit {done.returncode})"
    return [answers.get(name) or Answer(name, problem=missing) for name, _, _ in requests]


def _answers(output: bytes) -> list[Answer]:
    found = []
    while output:
        line, newline, rest = output.partition(b"\n")
        if not newline:
            break
        try:
            head = json.loads(line)
            length = int(head.pop("length"))
            if length > len(rest):
                break  # cut off at the deadline
            found.append(Answer(**head, body=rest[:length]))
        except (ValueError, TypeError, KeyError):
            break
        output = rest[length:]
    return found


# -- the child ---------------------------------------------------------------------------------------


def child_main() -> None:
    """The child's entry point: the spec on stdin, the answers on stdout."""
    spec = json.loads(sys.stdin.buffer.read())
    out, lock = sys.stdout.buffer, threading.Lock()
    pending = [r["name"] for r in spec["requests"]]
    seconds = max(0.0, float(spec["seconds"]))

    def emit(head: dict[str, Any], body: bytes = b"") -> None:
        with lock:
            out.write(json.dumps({**head, "length": len(body)}).encode() + b"\n" + body)
            out.flush()
            pending.remove(head["name"])

    def give_up() -> None:  # the deadline: say so for every request left, and stop at once
        with lock:
            for name in pending:
                out.write(json.dumps({"name": name, "problem": f"no answer within {seconds + MARGIN:.0f} s",
                                      "length": 0}).encode() + b"\n")
            out.flush()
            os._exit(0)

    timer = threading.Timer(seconds, give_up)
    timer.daemon = True
    timer.start()
    deadline = time.monotonic() + seconds

    def ask(request: dict[str, Any]) -> None:  # each on its own connection: one that hangs holds no other
        connection = _connect(spec["base"], deadline)
        try:
            head, body = _get(connection, spec, request, deadline)
        finally:
            connection.close()
        emit(head, body)

    threads = [threading.Thread(target=ask, args=(request,), daemon=True) for request in spec["requests"]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    timer.cancel()


def _connect(base: str, deadline: float) -> Any:
    import http.client
    import ssl
    from urllib.parse import urlsplit

    parts = urlsplit(base)
    timeout = max(0.01, deadline - time.monotonic())
    if parts.scheme == "https":
        return http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=timeout,
                                           context=ssl.create_default_context())
    return http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)


def _get(connection: Any, spec: dict[str, Any], request: dict[str, Any],
         deadline: float) -> tuple[dict[str, Any], bytes]:
    """One GET: the answer's header and its body."""
    import http.client
    import socket
    import ssl
    from urllib.parse import urlsplit

    name = request["name"]
    headers = {"Authorization": f"Bearer {spec['token']}", "anthropic-beta": BETA, "Accept": "application/json",
               "User-Agent": spec["agent"], **request["headers"]}
    try:
        connection.request("GET", urlsplit(spec["base"]).path + request["path"], headers=headers)
        response = connection.getresponse()
        head: dict[str, Any] = {"name": name, "status": response.status,
                                "retry_after": response.getheader("Retry-After"),
                                "content_type": response.getheader("Content-Type")}
        if 300 <= response.status < 400:
            location = urlsplit(response.getheader("Location") or "")
            head["location_host"] = location.hostname or "(the same host)"
            return head, b""
        declared = response.getheader("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
            head["problem"] = f"answered {int(declared):,} bytes, more than the {MAX_BODY:,} read"
            return head, b""
        body = response.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            head["problem"] = f"answered more than the {MAX_BODY:,} bytes read"
            return head, b""
        return head, body
    except ssl.SSLCertVerificationError as exc:
        problem = f"the server's certificate is not trusted ({exc.verify_message or 'verify failed'})"
    except TimeoutError:
        problem = f"no answer within {float(spec['seconds']) + MARGIN:.0f} s"
    except socket.gaierror:
        problem = f"cannot find {urlsplit(spec['base']).hostname} (name lookup failed)"
    except ssl.SSLError as exc:
        problem = f"TLS failed ({exc.reason or 'handshake'})"
    except http.client.HTTPException as exc:
        problem = f"answered something that is not HTTP ({type(exc).__name__})"
    except OSError as exc:
        problem = f"cannot connect ({exc.strerror or type(exc).__name__})"
    except Exception as exc:  # its text may quote what was sent: only its kind is told
        problem = f"the request failed ({type(exc).__name__})"
    return {"name": name, "problem": problem}, b""
