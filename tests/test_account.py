"""Reading the Claude account (account.py) against a real HTTP server on 127.0.0.1 that answers as
ACCOUNT_API.md describes, and fails in every way it lists."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tools.fake_claude_account import (
    ORG,
    SHAPES,
    FakeAccount,
    Garbage,
    Hang,
    Huge,
    Json,
    Redirect,
    Status,
    Trickle,
    free_port_refusing,
)

from reminderd import account_store
from reminderd.account import EXPIRED, REFUSED, AccountRefresh, read_login, refresh_account
from reminderd.errors import AccountLoginError
from reminderd.facts import AccountFacts, GrantedCredit, Money
from reminderd.settings import AccountSettings

TOKEN = "sk-ant-oat01-LEAKCHECK-9f8e7d6c5b4a3210-reminderd"
FAR = 4102444800000  # 2100-01-01, in ms: a login that has not expired
NOW = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)


def write_login(home: Path, token: str = TOKEN, expires: int | None = FAR, mode: int = 0o600,
                scopes: list[str] | None = None) -> Path:
    path = home / ".claude" / ".credentials.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    oauth: dict[str, Any] = {"accessToken": token, "refreshToken": "sk-ant-ort01-never-used",
                             "scopes": scopes or ["user:inference", "user:profile"], "subscriptionType": "pro"}
    if expires is not None:
        oauth["expiresAt"] = expires
    path.write_text(json.dumps({"claudeAiOauth": oauth}))
    path.chmod(mode)
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    write_login(home)
    (home / ".claude.json").write_text(json.dumps({"numStartups": 3, "oauthAccount": {"organizationUuid": ORG}}))
    return home


@pytest.fixture
def api() -> Iterator[FakeAccount]:
    with FakeAccount() as fake:
        yield fake


def refresh(api: FakeAccount, home: Path, state: Path, now: datetime = NOW, budget: float = 3.0,
            **settings: Any) -> AccountRefresh:
    force = settings.pop("force", False)
    chosen = AccountSettings(claude=True, api_base=api.url, **settings)
    return refresh_account(chosen, state, {}, home, now, time.monotonic() + budget, force=force)


def parts_asked(api: FakeAccount) -> list[str]:
    return [r.path.rsplit("/", 1)[1] for r in api.requests]


def test_reads_the_three_parts_with_the_headers_given(api: FakeAccount, home: Path, tmp_path: Path) -> None:
    result = refresh(api, home, tmp_path / "state")
    assert result.problems == () and result.asked == result.read == ("usage", "prepaid", "grant")
    assert sorted(r.path for r in api.requests) == sorted([
        "/api/oauth/usage", f"/api/oauth/organizations/{ORG}/prepaid/credits",
        f"/api/oauth/organizations/{ORG}/overage_credit_grant"])
    for request in api.requests:
        assert request.method == "GET" and request.host == f"127.0.0.1:{api.port}"
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["anthropic-beta"] == "oauth-2025-04-20"
        assert request.headers["accept"] == "application/json"
        assert request.headers.get("x-organization-uuid") == (None if request.path.endswith("usage") else ORG)
    facts = result.facts
    assert facts is not None and facts.read_at == NOW and facts.usage_credits_on is True
    assert facts.balance == Money(6036, "USD") and facts.monthly_limit == Money(5000, "USD")
    assert facts.credits == (GrantedCredit(Money(6034, "USD"), datetime(2026, 9, 19, tzinfo=UTC)),)
    assert facts.claimable is None
    assert result.next_at == NOW + timedelta(minutes=15)


def test_euros_and_the_other_money_shape(api: FakeAccount, home: Path, tmp_path: Path) -> None:
    api.set("usage", Json(SHAPES["usage-eur"]))
    api.set("prepaid", Json(SHAPES["prepaid-money"]))
    api.set("grant", Json(SHAPES["grant-offer"]))
    facts = refresh(api, home, tmp_path / "state").facts
    assert facts is not None
    assert (str(facts.monthly_limit), str(facts.month_spend), str(facts.balance)) == \
        ("EUR 4,000.00", "EUR 106.00", "EUR 25.50")
    assert facts.credits[0].remaining == Money(2000, "EUR") and facts.credits[0].name == "Usage credit, April 2026"
    assert facts.claimable is not None and facts.claimable.amount == Money(2000, "USD")


def kept(state_dir: Path) -> AccountFacts | None:
    """The facts account.json holds, as the next refresh starts from them."""
    return account_store.merged(account_store.load(state_dir))


def test_the_result_is_kept_privately_and_without_the_token(api: FakeAccount, home: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    facts = refresh(api, home, state).facts
    path = state / account_store.FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert TOKEN not in path.read_text()
    assert kept(state) == facts
    assert kept(tmp_path / "nowhere") is None
    path.write_text("{damaged")
    assert kept(state) is None  # a cache: rewritten at the next attempt
    assert refresh(api, home, state, now=NOW + timedelta(minutes=1)).facts is not None


def test_what_is_fresh_is_not_asked_again(api: FakeAccount, home: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    refresh(api, home, state)
    assert len(api.requests) == 3
    result = refresh(api, home, state, now=NOW + timedelta(minutes=14))
    assert result.asked == () and len(api.requests) == 3 and result.facts is not None
    assert result.next_at == NOW + timedelta(minutes=15)
    result = refresh(api, home, state, now=NOW + timedelta(minutes=15))
    assert result.asked == ("usage",)  # the balance and the claimable credit: at most hourly
    result = refresh(api, home, state, now=NOW + timedelta(minutes=60))
    assert result.asked == ("usage", "prepaid", "grant")
    assert refresh(api, home, state, now=NOW + timedelta(minutes=61), force=True).asked == \
        ("usage", "prepaid", "grant")


def test_a_clock_that_moved_back_does_not_stop_the_reading(api: FakeAccount, home: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    refresh(api, home, state, now=NOW + timedelta(days=400))  # the clock was a year ahead, then set right
    assert refresh(api, home, state, now=NOW).asked == ("usage", "prepaid", "grant")
    assert refresh(api, home, state, now=NOW + timedelta(minutes=1)).asked == ()


def test_an_expired_login_is_one_line_and_nothing_is_sent(api: FakeAccount, home: Path, tmp_path: Path) -> None:
    write_login(home, expires=int(NOW.timestamp() * 1000) - 1)
    result = refresh(api, home, tmp_path / "state")
    assert api.requests == [] and result.facts is None
    assert result.login_problem == EXPIRED == "the Claude login has expired: run `claude` once to log in again"
    assert result.problems == (EXPIRED,) and result.new_problems == (EXPIRED,)
    assert result.next_at == NOW + timedelta(minutes=15)  # the source waits, and looks again then
    again = refresh(api, home, tmp_path / "state", now=NOW + timedelta(minutes=15))
    assert again.problems == (EXPIRED,) and again.new_problems == ()  # said once
    write_login(home)  # `claude` was run
    assert refresh(api, home, tmp_path / "state", now=NOW + timedelta(minutes=30)).read == ("usage", "prepaid", "grant")


@pytest.mark.parametrize(("setup", "expected"), [
    (lambda home: (home / ".claude" / ".credentials.json").unlink(), "no Claude login in "),
    (lambda home: (home / ".claude" / ".credentials.json").write_text("{}"), "no Claude login in it"),
    (lambda home: write_login(home, token="abc\r\nX-Injected: 1"), "claudeAiOauth.accessToken is not a token"),
    (lambda home: write_login(home, scopes=["user:inference"]), "lacks the user:profile scope"),
    (lambda home: write_login(home, expires=None) and os.mkfifo(home / "fifo"), None),
])
def test_a_login_that_cannot_be_used_sends_nothing(api: FakeAccount, home: Path, tmp_path: Path, setup: Any,
                                                   expected: str | None) -> None:
    setup(home)
    result = refresh(api, home, tmp_path / "state")
    if expected is None:  # no expiresAt: used as it is
        assert result.read == ("usage", "prepaid", "grant")
        return
    assert api.requests == [] and result.login_problem is not None and expected in result.login_problem


def test_a_fifo_as_the_credentials_file_is_refused_not_waited_on(api: FakeAccount, home: Path,
                                                                   tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    started = time.monotonic()
    result = refresh(api, home, tmp_path / "state", credentials_file=fifo)
    assert time.monotonic() - started < 1.0
    assert result.login_problem is not None and "not a regular file" in result.login_problem


def test_a_login_readable_by_others_is_used_with_a_warning(api: FakeAccount, home: Path, tmp_path: Path) -> None:
    path = write_login(home, mode=0o644)
    result = refresh(api, home, tmp_path / "state")
    assert result.read and result.warnings == (
        f"{path} holds your Claude login and other users can read it: chmod 600 {path}",)


def test_claude_config_dir_and_a_configured_file(api: FakeAccount, home: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    write_login(other, expires=1000)  # expired: proves this one was read
    settings = AccountSettings(claude=True, api_base=api.url)
    result = refresh_account(settings, tmp_path / "s1", {"CLAUDE_CONFIG_DIR": str(other / ".claude")}, home, NOW,
                             time.monotonic() + 3)
    assert result.login_problem == EXPIRED
    result = refresh(api, home, tmp_path / "s2", credentials_file=other / ".claude" / ".credentials.json")
    assert result.login_problem == EXPIRED


def test_the_macos_keychain_through_security(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    secret = json.dumps({"claudeAiOauth": {"accessToken": TOKEN, "expiresAt": FAR}})
    (bin_dir / "security").write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/argv\ncat <<'EOF'\n{secret}\nEOF\n")
    (bin_dir / "security").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    login = read_login(AccountSettings(claude=True), {}, home / "nobody", NOW, platform="darwin")
    assert login.token.reveal() == TOKEN and login.expires_ms == FAR
    assert (tmp_path / "argv").read_text() == "find-generic-password -s Claude Code-credentials -w\n"
    (bin_dir / "security").write_text("#!/bin/sh\nexit 44\n")
    with pytest.raises(AccountLoginError, match="no Claude login in the macOS Keychain"):
        read_login(AccountSettings(claude=True), {}, home, NOW, platform="darwin")


def test_the_organization(api: FakeAccount, home: Path, tmp_path: Path) -> None:
    (home / ".claude.json").write_text(json.dumps({"oauthAccount": {}}))
    result = refresh(api, home, tmp_path / "s1")
    assert result.read == ("usage",) and parts_asked(api) == ["usage"]
    assert "prepaid/credits: no organization id: set [account] organization, or run `claude` once" in result.problems
    api.requests.clear()
    refresh(api, home, tmp_path / "s2", organization="0123-abcd")
    assert {r.headers.get("x-organization-uuid") for r in api.requests} == {None, "0123-abcd"}


# -- every failure ACCOUNT_API.md lists: one line each, a backoff, the last good facts kept ------------------


@pytest.mark.parametrize(("behaviour", "line"), [
    (Status(500), "prepaid/credits: the server answered HTTP 500"),
    (Status(503), "prepaid/credits: the server answered HTTP 503"),
    (Status(403), "prepaid/credits: this account has no such data (HTTP 403)"),
    (Status(404), "prepaid/credits: this account has no such data (HTTP 404)"),
    (Status(429, headers={"Retry-After": "600"}),
     "prepaid/credits: too many requests (HTTP 429): asked to wait 10 min"),
    (Json("<html>not json</html>"), "prepaid/credits: the answer is not JSON (text/html)"),
    (Json([1, 2]), "prepaid/credits: the answer: expected a JSON object, got a list"),
    (Huge(), "prepaid/credits: answered 10,485,760 bytes, more than the 1,048,576 read"),
    (Huge(0, declared=False), "prepaid/credits: answered more than the 1,048,576 bytes read"),
    (Garbage(), "prepaid/credits: answered something that is not HTTP (BadStatusLine)"),
    (Redirect("http://localhost:1/steal"), "prepaid/credits: answered with a redirect to localhost (HTTP 302); "
                                           "not followed"),
])
def test_a_failure_is_one_line_and_the_rest_is_read(api: FakeAccount, home: Path, tmp_path: Path, behaviour: Any,
                                                    line: str) -> None:
    api.set("prepaid", behaviour)
    result = refresh(api, home, tmp_path / "state")
    assert result.problems == (line,)
    assert result.read == ("usage", "grant") and result.facts is not None and result.facts.usage_credits_on is True
    assert all(r.host == f"127.0.0.1:{api.port}" for r in api.requests)  # the redirect was not followed


def test_a_redirect_to_another_host_is_not_followed(api: FakeAccount, home: Path, tmp_path: Path) -> None:
    for part in ("usage", "prepaid", "grant"):
        api.set(part, Redirect(f"http://localhost:{api.port}/api/oauth/usage"))
    result = refresh(api, home, tmp_path / "state")
    assert result.read == () and len(result.problems) == 3
    assert len(api.requests) == 3 and {r.host for r in api.requests} == {f"127.0.0.1:{api.port}"}


@pytest.mark.parametrize("behaviour", [Hang(), Trickle(0.05), Trickle(0.05, headers_too=True)])
def test_a_server_that_never_finishes_holds_nothing_past_the_deadline(api: FakeAccount, home: Path,
                                                                      tmp_path: Path, behaviour: Any) -> None:
    api.set("usage", behaviour)
    started = time.monotonic()
    result = refresh(api, home, tmp_path / "state", budget=1.5)
    elapsed = time.monotonic() - started
    assert elapsed < 1.5 + 0.3, elapsed
    assert result.problems == ("usage: no answer within 1 s",) and result.read == ("prepaid", "grant")


def test_nothing_listening(home: Path, tmp_path: Path) -> None:
    settings = AccountSettings(claude=True, api_base=f"http://127.0.0.1:{free_port_refusing()}")
    result = refresh_account(settings, tmp_path / "state", {}, home, NOW, time.monotonic() + 3)
    assert result.read == () and result.problems == ("usage: cannot connect (Connection refused)",
                                                     "prepaid/credits: cannot connect (Connection refused)",
                                                     "overage_credit_grant: cannot connect (Connection refused)")


def test_https_with_a_certificate_nobody_trusts_gets_nothing(home: Path, tmp_path: Path) -> None:
    import shutil
    import subprocess

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    with FakeAccount(certificate=(str(cert), str(key))) as api:
        result = refresh(api, home, tmp_path / "state")
        assert api.url.startswith("https://") and api.requests == []  # nothing, the token least, was sent
    assert result.read == () and all("certificate is not trusted" in p for p in result.problems)


def test_the_backoff_and_the_last_good_facts(api: FakeAccount, home: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    good = refresh(api, home, state).facts
    api.set("usage", Status(500))
    later = NOW + timedelta(minutes=15)
    result = refresh(api, home, state, now=later)
    assert result.facts is not None and result.facts.usage_credits_on is True  # kept
    assert result.facts.read_at == good.read_at if good else False
    assert result.problems == ("usage: the server answered HTTP 500",)
    assert result.next_at == later + timedelta(minutes=15)
    second = refresh(api, home, state, now=result.next_at)
    assert second.asked == ("usage",) and second.next_at == result.next_at + timedelta(minutes=30)
    third = refresh(api, home, state, now=second.next_at)
    assert third.asked == ("usage", "prepaid", "grant") and third.next_at == second.next_at + timedelta(minutes=60)
    fourth = refresh(api, home, state, now=third.next_at)
    assert fourth.next_at == third.next_at + timedelta(minutes=60)  # at most 4 times the interval
    api.set("usage", Json(SHAPES["usage-off"]))
    fine = refresh(api, home, state, now=third.next_at + timedelta(hours=1))
    assert fine.problems == () and fine.facts is not None and fine.facts.usage_credits_on is False


def test_retry_after_is_followed_even_when_asked_by_hand(api: FakeAccount, home: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    api.set("usage", Status(429, headers={"Retry-After": "3600"}))
    result = refresh(api, home, state)
    assert result.problems == ("usage: too many requests (HTTP 429): asked to wait 60 min",)
    asked = len(api.requests)
    again = refresh(api, home, state, now=NOW + timedelta(minutes=20), force=True)
    assert "usage" not in again.asked and len(api.requests) == asked + 2
    assert "usage: not asked: the server asked to wait 40 min more" in again.problems
    assert refresh(api, home, state, now=NOW + timedelta(minutes=60)).asked == ("usage",)


def test_403_is_not_asked_again_for_a_day(api: FakeAccount, home: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    api.set("grant", Status(404))
    refresh(api, home, state)
    assert refresh(api, home, state, now=NOW + timedelta(hours=2)).asked == ("usage", "prepaid")
    assert refresh(api, home, state, now=NOW + timedelta(days=1)).asked == ("usage", "prepaid", "grant")


def test_401_waits_for_a_new_login(api: FakeAccount, home: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    for part in ("usage", "prepaid", "grant"):
        api.set(part, Status(401))
    result = refresh(api, home, state)
    assert result.login_problem == REFUSED and result.problems == (REFUSED,)
    asked = len(api.requests)
    result = refresh(api, home, state, now=NOW + timedelta(hours=5), force=True)
    assert len(api.requests) == asked and result.login_problem == REFUSED  # the same login is not sent again
    write_login(home, expires=FAR + 1)  # logged in again
    api.set("usage", Json(SHAPES["usage-on"]))
    api.set("prepaid", Json(SHAPES["prepaid-usd"]))
    api.set("grant", Json(SHAPES["grant-none"]))
    assert refresh(api, home, state, now=NOW + timedelta(hours=6)).read == ("usage", "prepaid", "grant")


def test_401_for_one_part_only_is_that_part_s_problem(api: FakeAccount, home: Path, tmp_path: Path) -> None:
    api.set("grant", Status(401))
    result = refresh(api, home, tmp_path / "state")
    assert result.login_problem is None and result.read == ("usage", "prepaid")
    assert result.problems == ("overage_credit_grant: the server refused the Claude login (HTTP 401)",)
    assert refresh(api, home, tmp_path / "state", now=NOW + timedelta(hours=2)).asked == ("usage", "prepaid", "grant")


def test_parts_read_long_apart_are_not_mixed(api: FakeAccount, home: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    refresh(api, home, state)
    api.set("prepaid", Status(500))
    result = refresh(api, home, state, now=NOW + timedelta(days=2), force=True)
    facts = result.facts
    assert facts is not None and facts.read_at == NOW + timedelta(days=2)
    assert facts.balance is None and facts.credits == () and facts.usage_credits_on is True


# -- the token goes nowhere but the Authorization header of the configured host ------------------------------


def test_the_token_reaches_no_log_output_file_argv_or_exception(
        api: FakeAccount, home: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import logging
    import subprocess

    started: list[tuple[Any, Any]] = []
    real_popen = subprocess.Popen

    class Spy(real_popen):  # type: ignore[misc, valid-type]
        def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
            started.append((args, kwargs.get("env")))
            super().__init__(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", Spy)
    caplog.set_level(logging.DEBUG)
    state = tmp_path / "state"
    texts: list[str] = []
    now = NOW
    for behaviour in [Json(SHAPES["usage-eur"]), Status(401), Status(403), Status(429, headers={"Retry-After": "1"}),
                      Status(500), Json("<x>"), Huge(), Garbage(), Redirect("http://localhost:1/"), Trickle(0.05)]:
        api.set("usage", behaviour)
        write_login(home, expires=FAR + len(texts))  # a "new" login each time: a 401 does not stop the next
        now += timedelta(days=2)
        result = refresh(api, home, state, now=now, budget=1.0, force=True)
        texts += [repr(result), str(result)]
    for broken in ("abc\r\n" + TOKEN, TOKEN + "\x00"):
        write_login(home, token=broken)
        try:
            read_login(AccountSettings(claude=True), {}, home, NOW)
        except AccountLoginError as exc:
            texts += [str(exc), repr(exc)]
    write_login(home)
    texts.append(repr(read_login(AccountSettings(claude=True), {}, home, NOW)))
    out, err = capfd.readouterr()
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != ".credentials.json"]
    assert files and any(p.name == "account.json" for p in files)
    assert started, "the requests run in a child process"
    everything = [*texts, out, err, caplog.text, *(r.getMessage() for r in caplog.records),
                  *(p.read_bytes().decode("utf-8", "replace") for p in files),
                  *(json.dumps(args) + json.dumps(env) for args, env in started)]
    assert [t for t in everything if "LEAKCHECK" in t] == []
    assert {r.headers["authorization"] for r in api.requests} == {f"Bearer {TOKEN}"}  # where it did go


def test_the_request_machinery_is_loaded_only_to_make_a_request() -> None:
    code = ("import sys; import reminderd.account; "
            "print([m for m in ('reminderd.account_http', 'email.utils', 'socket') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.stdout == "[]\n", done.stderr  # `status` with fresh facts kept asks nothing
