"""No password in a calendar address is ever shown or stored (security M1), and a listing the
server sends that XML cannot read is one line, exit 69 (L2)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import Result

from reminderd.caldav_sync import CalDAVSession
from reminderd.errors import CalendarError
from reminderd.urls import check_page_url, check_url, redact, redact_text

Cli = Callable[..., Result]
SECRET = "S3cretPassw0rd"


@pytest.mark.parametrize(("url", "why"), [
    ("https://cloud.example.com/dav/me/cal/", None),
    ("http://127.0.0.1:5232/me/cal/", None),
    (f"https://alice:{SECRET}@cloud.example.com/dav/", "without a user name or password"),
    ("https://alice@cloud.example.com/dav/", "without a user name or password"),
    (f"http://alice:{SECRET}@cloud.example.com/dav/", "without a user name or password"),
    ("http://cloud.example.com/dav/", "an https:// address"),
    ("ftp://cloud.example.com/", "an http(s) address"),
    ("https://[::1/dav/", "an http(s) address"),  # urlsplit raises on it
])
def test_check_url(url: str, why: str | None) -> None:
    problem = check_url(url)
    assert (problem is None) if why is None else (problem is not None and why in problem)


def test_redact_drops_the_user_name_and_password_and_nothing_else() -> None:
    assert redact(f"https://alice:{SECRET}@cloud.example.com:8443/dav/x?y#z") == "https://cloud.example.com:8443/dav/x?y#z"
    assert redact("https://cloud.example.com/dav/") == "https://cloud.example.com/dav/"
    assert redact(f"https://a:{SECRET}@[::1/x") == "https://[::1/x"
    quoted = f"HTTPConnectionPool(host='h'): Max retries with url: http://alice:{SECRET}@h:1/cal/ and https://bob@o/"
    assert redact_text(quoted) == "HTTPConnectionPool(host='h'): Max retries with url: http://h:1/cal/ and https://o/"


def test_check_page_url() -> None:
    assert check_page_url("https://claude.ai/settings/usage") is None
    for bad in ("-o /tmp/x", "file:///etc/passwd", "javascript:alert(1)", "https://u:p@host/"):
        assert check_page_url(bad) is not None


@pytest.mark.parametrize("url", [f"https://alice:{SECRET}@cloud.example.com/dav/",
                                 f"http://alice:{SECRET}@cloud.example.com/dav/",
                                 f"https://alice:{SECRET}@cloud.example.com/dav/\u0007"])
def test_a_password_in_the_address_is_refused_and_never_shown(url: str, cli: Cli,
                                                               write_config: Callable[[str], Path]) -> None:
    path = write_config(f'[calendar]\ncaldav_url = "{url}"\n[[credit]]\n'.replace("\u0007", "\\u0007"))
    result = cli("--config", str(path), "status")
    assert result.exit_code == 78 and SECRET not in result.output
    line = next(line for line in result.stderr.splitlines() if "calendar.caldav_url" in line)
    assert "cloud.example.com/dav/" in line
    if "\u0007" not in url:
        assert "calendar.username" in line and "calendar.password_command" in line


def test_the_http_library_quoting_the_address_is_redacted_too() -> None:
    # config.py refuses such an address; the session redacts all the same
    session = CalDAVSession(f"http://alice:{SECRET}@127.0.0.1:9/cal/", None, None)
    with pytest.raises(CalendarError) as error:
        session.listing()
    assert SECRET not in str(error.value) and "alice" not in str(error.value)
    assert str(error.value).startswith("http://127.0.0.1:9/cal/: cannot reach the calendar server: ")


ENTITY_LISTING = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/hostname">]>
<d:multistatus xmlns:d="DAV:"><d:response><d:href>/cal/&x;.ics</d:href><d:propstat><d:prop>
<d:getetag>"1"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>
"""


@pytest.fixture
def hostile() -> Iterator[str]:
    """A calendar server on 127.0.0.1 whose listing names an external entity."""
    class Handler(BaseHTTPRequestHandler):
        def do_PROPFIND(self) -> None:  # noqa: N802 (http.server's naming)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(207)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(ENTITY_LISTING)))
            self.end_headers()
            self.wfile.write(ENTITY_LISTING)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cal/"
    server.shutdown()
    server.server_close()


def test_a_listing_xml_cannot_read_is_one_line_and_exit_69(hostile: str, cli: Cli,
                                                           write_config: Callable[[str], Path]) -> None:
    path = write_config(f'timezone = "UTC"\n[calendar]\ncaldav_url = "{hostile}"\n'
                        '[[credit]]\nid = "c"\nplan = "pro"\nclaimed_at = 2026-02-06T09:30:00\n')
    result = cli("--config", str(path), "sync-calendar")
    assert result.exit_code == 69
    assert result.stderr.splitlines() == [f"reminderd: {hostile}: the calendar listing is not XML reminderd can read: "
                                          "undefined entity &x;: line 3, column 55"]
