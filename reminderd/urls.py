"""Calendar and push addresses, and the account's API: what one may be, and how one may be shown
(pure; no network library: parsing the config needs none).

A password belongs in `calendar.password_command`, never in the address: an address is shown
in messages, logged, and used as a key in the state file. So an address with a user name or
password in it is refused when the config is read, and whatever shows an address or an HTTP
library's error text passes it through redact() first.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost")
EXAMPLE = "https://cloud.example.com/remote.php/dav/calendars/me/reminders/"
# scheme://userinfo@ inside any text (an exception's message quotes the URL it was given)
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^\s/?#@]*@")


def check_url(url: str) -> str | None:
    """Why `url` cannot be a calendar address, or None. Plain http only to this machine: it
    would send the password in the clear. No user name or password in it: they would be shown
    and stored with the address."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # "https://[::1" and the like
        parts, host = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        return f"an http(s) address of a calendar collection, e.g. {EXAMPLE}"
    if "@" in parts.netloc:
        return ("an address without a user name or password in it (they would be shown and stored with it): "
                "put the user name in calendar.username and let calendar.password_command print the password")
    if parts.scheme == "http" and host not in LOCAL_HOSTS:
        return "an https:// address (plain http only to this machine: it would send your password in the clear)"
    return None


_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
_ONE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")  # Apprise skips text before a URL, and splits at spaces


def describe(url: str) -> str:
    """A push URL as it may be shown: its scheme only ("ntfy://…"), and only if it looks like one
    (text before "://" that is not a scheme may be a token)."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    return f"{scheme if _SCHEME.fullmatch(scheme) else '?'}://…"


def is_one_url(text: str) -> bool:
    """Whether `text` has the shape of one URL (scheme://rest, no spaces or commas that would make
    Apprise read several). Whether Apprise can send to it is known when its channel is built."""
    return bool(_ONE_URL.fullmatch(text)) and "," not in text


def redact(url: str) -> str:
    """`url` without its user name and password, as it may be shown, logged or stored."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def redact_text(text: str) -> str:
    """`text` (an error message) with the user name and password of every URL in it removed."""
    return _USERINFO.sub(r"\1", text)


def check_page_url(url: str) -> str | None:
    """Why `url` cannot be the page reminderd opens in the browser (an offer's settings_url)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("https", "http") or not parts.netloc or "@" in parts.netloc:
        return "a web address such as https://claude.ai/settings/usage"
    return None


_ORGANIZATION = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def check_api_base(url: str) -> str | None:
    """Why `url` cannot be the account's API ([account] api_base), or None: https, or plain http
    only to this machine (a test server: it would send the login in the clear), with no user,
    query or fragment."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or port == 0 \
            or "@" in parts.netloc or "?" in url or "#" in url:
        return "an https:// address such as https://api.anthropic.com"
    if parts.scheme == "http" and not _loopback(parts.hostname):
        return "an https:// address (plain http only to this machine, for tests: it would send your login in the clear)"
    return None


def check_organization(value: str) -> bool:
    """An organization id may go into a URL's path: letters, digits and '-' only."""
    return bool(_ORGANIZATION.match(value))


def _loopback(host: str) -> bool:
    import ipaddress

    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
