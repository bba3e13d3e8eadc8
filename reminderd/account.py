"""The Claude account as a source (issue 20; ACCOUNT_API.md): whether usage credits are on, the
monthly cap and spend, the balance, each granted credit's remainder and expiry, a claimable credit.

Opt-in (`[account] claude = true`) and read only: three GET requests with the login Claude Code
keeps on this machine, sent only to `api_base` (account_http.py). The login is read, never
refreshed or written (a second program that refreshes it races Claude Code and can log the user
out); an expired or missing one is one line and the source waits until it is renewed. The
token is in no log, output, argv, state file or exception: it lives in a Secret and goes to the
request process on its stdin.

refresh_account() asks what is due (usage every poll_minutes, the balance and the claimable
credit at most hourly), follows the backoff, keeps the result (account_store.py) and returns
the merged facts with when to call again; it never raises for the account's failures.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from reminderd import account_store as store
from reminderd.account_shapes import GRANT, PREPAID, USAGE, read_grant, read_prepaid, read_usage
from reminderd.errors import AccountLoginError, StateError, one_line
from reminderd.facts import AccountFacts
from reminderd.settings import AccountSettings

if TYPE_CHECKING:
    from reminderd.account_http import Answer
    from reminderd.record import State
    from reminderd.settings import Config

EXPIRED = "the Claude login has expired: run `claude` once to log in again"
REFUSED = "the server refused the Claude login (401): run `claude` once to log in again"
KEYCHAIN_SERVICE = "Claude Code-credentials"
MAX_CREDENTIALS = 1024 * 1024  # bytes
MAX_CLAUDE_JSON = 64 * 1024 * 1024  # ~/.claude.json keeps every project's history: it grows
ABSENT_FOR = timedelta(days=1)  # 403/404: the account has no such data; not asked again before this
MAX_RETRY_AFTER = timedelta(days=1)
ENDPOINTS = {store.USAGE: USAGE, store.PREPAID: PREPAID, store.GRANT: GRANT}


class Secret:
    """A token: shown as `Secret(…)` wherever it is printed, logged or put in an exception."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(…)"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is not pickled")


class Login(NamedTuple):
    token: Secret
    expires_ms: int | None  # `expiresAt`, ms since the epoch
    warnings: tuple[str, ...] = ()


def read_login(settings: AccountSettings, environ: Mapping[str, str], home: Path, now: datetime,
               platform: str = sys.platform) -> Login:
    """Claude Code's login on this machine; raises AccountLoginError (one line) if it is missing,
    unreadable, expired or cannot read the account."""
    warnings: list[str] = []
    if settings.credentials_file is None and platform == "darwin":
        where, data = "the macOS Keychain", _keychain()
    else:
        path = settings.credentials_file or Path(environ.get("CLAUDE_CONFIG_DIR") or home / ".claude") / \
            ".credentials.json"
        where = str(path)
        try:
            data, mode = _read_file(path, MAX_CREDENTIALS)
        except FileNotFoundError:
            raise AccountLoginError(f"no Claude login in {where}: run `claude` once and log in") from None
        except OSError as exc:
            raise AccountLoginError(f"{where}: cannot read the Claude login: {exc.strerror or exc}") from None
        if mode & 0o044:
            warnings.append(f"{where} holds your Claude login and other users can read it: chmod 600 {where}")
    try:
        oauth = json.loads(data)["claudeAiOauth"]
        token, expires, scopes = oauth["accessToken"], oauth.get("expiresAt"), oauth.get("scopes")
    except (ValueError, TypeError, KeyError):
        raise AccountLoginError(f"{where}: no Claude login in it (claudeAiOauth.accessToken): "
                                "run `claude` once to log in again") from None
    if not isinstance(token, str) or not 8 <= len(token) <= 8192 or not all("!" <= c <= "~" for c in token):
        raise AccountLoginError(f"{where}: claudeAiOauth.accessToken is not a token: run `claude` once to log in again")
    if isinstance(expires, bool) or not isinstance(expires, (int, float, type(None))):
        raise AccountLoginError(f"{where}: claudeAiOauth.expiresAt is not a time: run `claude` once to log in again")
    if expires is not None and expires <= now.timestamp() * 1000:
        raise AccountLoginError(EXPIRED)
    if isinstance(scopes, list) and "user:profile" not in scopes:
        raise AccountLoginError("the Claude login on this machine cannot read the account (it lacks the "
                                "user:profile scope, as a `claude setup-token` login does): run `claude` to log in")
    return Login(Secret(token), None if expires is None else int(expires), tuple(warnings))


def _keychain() -> bytes:
    from reminderd.bounded import CannotRun, run

    try:
        done = run(["security", "find-generic-password", "-s", KEYCHAIN_SERVICE, "-w"], timeout=5.0)
    except CannotRun:
        raise AccountLoginError("cannot run `security` to read the Claude login from the macOS Keychain") from None
    if done.timed_out:
        raise AccountLoginError("the macOS Keychain did not give the Claude login within 5 s (locked?)")
    if done.returncode != 0:
        raise AccountLoginError("no Claude login in the macOS Keychain: run `claude` once and log in")
    return done.stdout


def _read_file(path: Path, cap: int) -> tuple[bytes, int]:
    """At most `cap` bytes of a regular file, and its mode (a FIFO or a device is refused, not waited on)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(0, "not a regular file")
        if info.st_size > cap:
            raise OSError(0, f"larger than {cap // (1024 * 1024)} MiB")
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read(cap), info.st_mode
    finally:
        os.close(fd)


def find_organization(settings: AccountSettings, environ: Mapping[str, str], home: Path,
                      known: tuple[int, int, str] | None) -> tuple[str | None, tuple[int, int, str] | None]:
    """The organization id: the configured one, else `oauthAccount.organizationUuid` of
    Claude Code's ~/.claude.json (read again only when that file changed since `known`)."""
    if settings.organization:
        return settings.organization, known
    config_dir = environ.get("CLAUDE_CONFIG_DIR")
    for path in ([Path(config_dir) / ".claude.json"] if config_dir else []) + [home / ".claude.json"]:
        try:
            info = path.stat()
            if known is not None and known[:2] == (info.st_mtime_ns, info.st_size):
                return known[2], known
            data, _ = _read_file(path, MAX_CLAUDE_JSON)
            org = json.loads(data)["oauthAccount"]["organizationUuid"]
        except (OSError, ValueError, TypeError, KeyError):
            continue
        if isinstance(org, str) and org and len(org) <= 64 and all(c.isalnum() or c == "-" for c in org):
            return org, (info.st_mtime_ns, info.st_size, org)
    return None, None


class Outcome(NamedTuple):
    """What asking one part gave."""

    part: str
    ok: bool  # a usable answer; `value` holds it
    value: Any = None
    problems: tuple[str, ...] = ()
    kind: str = "ok"  # ok, absent (403/404), refused (401), limited (429), failed
    retry_after: timedelta | None = None


def read_parts(settings: AccountSettings, login: Login, organization: str | None, parts: tuple[str, ...],
               now: datetime, deadline: float) -> list[Outcome]:
    """Ask the account for `parts` (store.USAGE, store.PREPAID, store.GRANT) within `deadline`."""
    requests: list[tuple[str, str, dict[str, str]]] = []
    outcomes: dict[str, Outcome] = {}
    for part in parts:
        if part == store.USAGE:
            requests.append((part, "/api/oauth/usage", {}))
        elif organization is None:
            problem = f"{ENDPOINTS[part]}: no organization id: set [account] organization, or run `claude` once"
            outcomes[part] = Outcome(part, False, problems=(problem,), kind="failed")
        else:
            path = "prepaid/credits" if part == store.PREPAID else "overage_credit_grant"
            requests.append((part, f"/api/oauth/organizations/{organization}/{path}",
                             {"x-organization-uuid": organization}))
    if requests:  # imported here: `status` with fresh facts kept asks nothing
        from reminderd.account_http import fetch

        for answer in fetch(settings.api_base, requests, login.token.reveal(), deadline):
            outcomes[answer.name] = _outcome(answer, now)
    return [outcomes[part] for part in parts]


def _outcome(answer: Answer, now: datetime) -> Outcome:
    part, endpoint = answer.name, ENDPOINTS[answer.name]
    status = answer.status
    if answer.problem is not None or status is None:
        return Outcome(part, False, problems=(f"{endpoint}: {answer.problem}",), kind="failed")
    if status == 401:
        return Outcome(part, False, problems=(f"{endpoint}: the server refused the Claude login (HTTP 401)",),
                       kind="refused")
    if status in (403, 404):
        return Outcome(part, False, problems=(f"{endpoint}: this account has no such data (HTTP {status})",),
                       kind="absent")
    if status == 429:
        wait = _retry_after(answer.retry_after, now)
        said = f": asked to wait {_minutes(wait)}" if wait else ""
        return Outcome(part, False, problems=(f"{endpoint}: too many requests (HTTP 429){said}",), kind="limited",
                       retry_after=wait)
    if 300 <= status < 400:
        return Outcome(part, False, problems=(
            f"{endpoint}: answered with a redirect to {one_line(answer.location_host or '?')[:80]} (HTTP {status}); "
            "not followed",), kind="failed")
    if status != 200:
        return Outcome(part, False, problems=(f"{endpoint}: the server answered HTTP {status}",), kind="failed")
    try:
        document = json.loads(answer.body)
    except (ValueError, RecursionError):
        kind = one_line(answer.content_type or "no content type")[:60]
        return Outcome(part, False, problems=(f"{endpoint}: the answer is not JSON ({kind})",), kind="failed")
    reader = {store.USAGE: read_usage, store.PREPAID: read_prepaid, store.GRANT: read_grant}[part]
    value, problems = reader(document)
    if problems and (value is None or not any(value)):  # nothing usable: a changed shape; keep the last good
        return Outcome(part, False, problems=tuple(problems), kind="failed")
    return Outcome(part, True, value, tuple(problems))


def _minutes(span: timedelta) -> str:
    return f"{max(1, -(-int(span.total_seconds()) // 60))} min"


def _retry_after(header: str | None, now: datetime) -> timedelta | None:
    """Retry-After in seconds or as an HTTP date; at most MAX_RETRY_AFTER."""
    if not header:
        return None
    from email.utils import parsedate_to_datetime  # ~6 ms (socket, email.charset): only for a 429

    text = header.strip()
    try:
        wait = timedelta(seconds=int(text)) if text.isdigit() else parsedate_to_datetime(text) - now
    except (ValueError, TypeError, OverflowError):
        return None
    return min(max(wait, timedelta(0)), MAX_RETRY_AFTER)


class AccountRefresh(NamedTuple):
    facts: AccountFacts | None  # the last good facts, merged, with the last attempt's problems; None: never read
    next_at: datetime  # when refresh_account is next worth calling (the backoff and Retry-After followed)
    asked: tuple[str, ...] = ()  # the parts asked this time ("usage", "prepaid", "grant")
    read: tuple[str, ...] = ()  # those that answered usably
    problems: tuple[str, ...] = ()  # of the last attempt, one line each (as facts.problems)
    new_problems: tuple[str, ...] = ()  # those the attempt before did not have: worth a log line
    warnings: tuple[str, ...] = ()  # e.g. the credentials file is readable by others
    login_problem: str | None = None  # the login is missing, expired or refused: nothing was sent


def every(settings: AccountSettings, part: str) -> timedelta:
    """How often a part is read: usage every poll, the balance and the claimable credit at most hourly."""
    minutes = settings.poll_minutes if part == store.USAGE else max(60, settings.poll_minutes)
    return timedelta(minutes=minutes)


def due_at(settings: AccountSettings, part: str, record: store.PartRecord, now: datetime,
           force: bool = False) -> datetime | None:
    """When a part is next to be asked; None: now. `force` (the `account` command) only waits for
    a server's Retry-After. A time further off than any wait reminderd sets comes from a clock
    that has moved back since: it does not count."""
    times = [record.limited_until]
    if not force:
        times += [record.retry_at, record.absent_until,
                  record.read_at + every(settings, part) if record.read_at else None]
    longest = max(ABSENT_FOR, MAX_RETRY_AFTER, 4 * every(settings, part))
    known = [t for t in times if t is not None and t <= now + longest]
    return max(known) if known else None


def refresh_account(settings: AccountSettings, state_dir: Path, environ: Mapping[str, str], home: Path, now: datetime,
                    deadline: float, force: bool = False, platform: str = sys.platform) -> AccountRefresh:
    """Ask the account for what is due before `deadline` (time.monotonic()), keep what it said, and
    return the merged facts and when to call again. Never raises for the account's failures."""
    before = store.load(state_dir)
    records = {part: before.parts.get(part, store.PartRecord()) for part in store.PARTS}
    wanted = tuple(p for p in store.PARTS if (at := due_at(settings, p, records[p], now, force)) is None or at <= now)
    if not wanted:
        return _result(settings, before, now, (), (), before.problems, (), None)
    waiting = [f"{ENDPOINTS[p]}: not asked: the server asked to wait {_minutes(until - now)} more"
               for p in store.PARTS if force and p not in wanted and (until := records[p].limited_until)]
    try:
        login = read_login(settings, environ, home, now, platform)
        if before.refused_login is not None and login.expires_ms == before.refused_login:
            raise AccountLoginError(REFUSED)
    except AccountLoginError as exc:
        stored = before._replace(problems=(str(exc),), tried_at=now)
        return _result(settings, _saved(state_dir, stored), now, (), (), before.problems, (), str(exc))
    organization, org_record = find_organization(settings, environ, home, before.organization)
    outcomes = read_parts(settings, login, organization, wanted, now, deadline)
    # a 401 with no other part read: the login itself is refused, and not sent again until it changes
    login_refused = any(o.kind == "refused" for o in outcomes) and not any(o.ok for o in outcomes)
    refused = login.expires_ms if login_refused else None
    problems: list[str] = [REFUSED] if refused is not None else []
    for outcome in outcomes:
        records[outcome.part] = _next_record(settings, records[outcome.part], outcome, now)
        if not (refused is not None and outcome.kind == "refused"):
            problems += [p for p in outcome.problems if p not in problems]
    stored = store.Stored(records, tuple(problems + waiting), refused, org_record, now)
    read = tuple(o.part for o in outcomes if o.ok)
    return _result(settings, _saved(state_dir, stored), now, wanted, read, before.problems, login.warnings,
                   REFUSED if login_refused else None)


def _next_record(settings: AccountSettings, record: store.PartRecord, outcome: Outcome,
                 now: datetime) -> store.PartRecord:
    if outcome.ok:
        return store.PartRecord(read_at=now, value=outcome.value)
    if outcome.kind == "absent":
        return store.PartRecord(absent_until=now + ABSENT_FOR)
    failures = record.failures + 1
    backoff = min(every(settings, outcome.part) * 2 ** min(failures - 1, 8), 4 * every(settings, outcome.part))
    limited = now + outcome.retry_after if outcome.retry_after else None
    return record._replace(failures=failures, retry_at=max(now + backoff, limited or now), limited_until=limited,
                           absent_until=None)


def _saved(state_dir: Path, stored: store.Stored) -> store.Stored:
    try:
        store.save(state_dir, stored)
    except StateError as exc:
        return stored._replace(problems=(*stored.problems, f"cannot keep what the account said: {exc}"))
    return stored


def _result(settings: AccountSettings, stored: store.Stored, now: datetime, asked: tuple[str, ...],
            read: tuple[str, ...], problems_before: tuple[str, ...], warnings: tuple[str, ...],
            login_problem: str | None) -> AccountRefresh:
    times = [due_at(settings, p, stored.parts.get(p, store.PartRecord()), now) for p in store.PARTS]
    next_at = min((t for t in times if t is not None and t > now), default=now + every(settings, store.USAGE))
    if login_problem is not None or any(t is None or t <= now for t in times):
        next_at = now + every(settings, store.USAGE)  # the login is looked at again then
    facts = store.merged(stored)
    return AccountRefresh(facts, next_at, asked, read, stored.problems,
                          tuple(p for p in stored.problems if p not in problems_before), warnings, login_problem)


def current_account(settings: AccountSettings, state_dir: Path, environ: Mapping[str, str], home: Path,
                    now: datetime, budget: float = 5.0) -> AccountFacts | None:
    """For `status` and the other commands: the facts kept when they are fresh (the daemon keeps
    them so), else one attempt within `budget` seconds; the last good facts either way."""
    import time

    return refresh_account(settings, state_dir, environ, home, now, time.monotonic() + budget).facts


class AccountSource:
    """The account as a seams.Source of facts.Facts.account. Each turn asks what is due (most turns
    nothing: the facts kept are returned at once, and a failing account backs off by itself); a
    login that cannot be used raises, so the daemon says so once and keeps the last facts. A new
    problem or warning is one log line, once."""

    name = "the Claude account"
    field = "account"
    every = timedelta(minutes=1)  # refresh_account knows what is due (poll_minutes; the balance hourly)
    within = 30.0  # seconds a reading may take, whatever deadline the daemon gives

    def __init__(self, settings: AccountSettings) -> None:
        self.settings = settings
        self.warned: set[str] = set()

    def refresh(self, config: Any, state_dir: Path, now: datetime, deadline: float) -> AccountFacts | None:
        import logging
        import time

        result = refresh_account(self.settings, state_dir, os.environ, Path.home(), now,
                                 min(deadline, time.monotonic() + self.within))
        if result.login_problem is not None:
            raise AccountLoginError(result.login_problem)
        log = logging.getLogger("reminderd")
        for line in result.new_problems:
            log.warning("%s: %s", self.name, line)
        for line in set(result.warnings) - self.warned:
            log.warning("%s: %s", self.name, line)
            self.warned.add(line)
        return result.facts

    @staticmethod
    def keep(state: State, config: Config, value: AccountFacts, now: datetime) -> State:
        """What the account said of each credit and of the switch: kept, so a restart before the
        next read forgets neither that usage credits are off nor the balance."""
        from reminderd.matching import with_account_facts

        return with_account_facts(state, config, value, now)
