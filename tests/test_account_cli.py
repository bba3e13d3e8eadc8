"""`reminderd account` end to end against the fake account server, and `[account]` in the config."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result
from conftest import ROOT, assert_golden, config_text
from test_account import TOKEN, write_login
from tools.fake_claude_account import ORG, SHAPES, FakeAccount, Hang, Json, Status

from reminderd.config import parse_config
from reminderd.errors import ConfigError
from reminderd.settings import AccountSettings

CREDIT = """
[[credit]]
id = "feb"
plan = "pro"
subscribed_at = 2025-09-01
claimed_at = 2026-02-06T09:30:00
"""


@pytest.fixture
def api() -> Iterator[FakeAccount]:
    with FakeAccount() as fake:
        yield fake


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    write_login(home)
    (home / ".claude.json").write_text(json.dumps({"oauthAccount": {"organizationUuid": ORG}}))
    return home


@pytest.fixture
def account_cli(api: FakeAccount, home: Path, write_config: Callable[[str], Path],
                cli: Callable[..., Result]) -> Callable[..., Result]:
    path = write_config(config_text(f'[account]\nclaude = true\napi_base = "{api.url}"\n', credit=CREDIT))

    def run(*args: str) -> Result:
        return cli("--config", str(path), "account", *args, env={"HOME": str(home)})
    return run


def test_account_json_against_the_server(api: FakeAccount, account_cli: Callable[..., Result]) -> None:
    api.set("usage", Json(SHAPES["usage-eur"]))
    api.set("prepaid", Json(SHAPES["prepaid-two"]))
    api.set("grant", Json(SHAPES["grant-offer"]))
    result = account_cli("--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-0[78]:00", document["read_at"])
    document["read_at"] = "<read_at>"
    assert_golden("account.json", json.dumps(document, indent=2, sort_keys=True) + "\n")
    assert [c["matched"] for c in document["credits"]] == ["feb", None]  # the expiry of feb's claim, 60 days on
    assert document["credits"][1]["discovered"] == "account-2026-07-02-2"


def test_account_text(api: FakeAccount, account_cli: Callable[..., Result]) -> None:
    api.set("prepaid", Json(SHAPES["prepaid-two"]))
    result = account_cli()
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"Claude account, as read \w{3} \d{4}-\d\d-\d\d \d\d:\d\d P[DS]T \(just now\)", lines[0])
    assert lines[1:] == [
        "  Usage credits     on (formerly Extra Usage)",
        "  Spend limit       monthly cap USD 50.00, spent this month USD 12.34",
        "  Balance           USD 150.00",
        "  Credit            USD 50.00 left, expires Tue 2026-04-07 09:30 PDT: your credit feb",
        "  Credit            USD 100.00 left, expires Thu 2026-07-02 09:00 PDT (Max 5x credit): "
        "in no config, shown as account-2026-07-02-2",
    ]


def test_account_problems_and_the_exit_code(api: FakeAccount, account_cli: Callable[..., Result]) -> None:
    assert account_cli().exit_code == 0
    api.set("prepaid", Status(503))
    result = account_cli()
    assert result.exit_code == 0  # something was read: the problem is shown, not an error
    assert result.stdout.endswith("Problems:\n  prepaid/credits: the server answered HTTP 503\n")
    for part in ("usage", "grant"):
        api.set(part, Status(500))
    result = account_cli()
    assert result.exit_code == 69
    assert "Balance           USD 60.36" in result.stdout  # the last good answer, still shown
    assert result.stderr == "reminderd: the account could not be read: usage: the server answered HTTP 500\n"


def test_an_expired_login(home: Path, api: FakeAccount, account_cli: Callable[..., Result]) -> None:
    write_login(home, expires=1000)
    result = account_cli("--json")
    assert result.exit_code == 77 and api.requests == []
    assert json.loads(result.stdout)["problems"] == ["the Claude login has expired: run `claude` once to log in again"]
    assert result.stderr == "reminderd: the Claude login has expired: run `claude` once to log in again\n"
    text = account_cli()
    assert text.exit_code == 77 and "log in again" not in text.stdout  # said once, on stderr
    assert text.stderr == result.stderr


def test_a_server_that_never_answers_takes_5_seconds_at_most(api: FakeAccount,
                                                             account_cli: Callable[..., Result]) -> None:
    for part in ("usage", "prepaid", "grant"):
        api.set(part, Hang())
    started = time.monotonic()
    result = account_cli()
    assert time.monotonic() - started < 5.5
    assert result.exit_code == 69 and "usage: no answer within 5 s" in result.stdout


def test_without_the_opt_in(cli: Callable[..., Result], write_config: Callable[[str], Path]) -> None:
    path = write_config(config_text("[account]\nclaude = false\n"))
    result = cli("--config", str(path), "account")
    assert result.exit_code == 78
    assert "account.claude: expected true in an [account] table (reading the account is opt-in)" in result.stderr


def test_the_real_command_in_its_own_process(api: FakeAccount, home: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(config_text(f'[account]\nclaude = true\napi_base = "{api.url}"\n', credit=CREDIT))
    env = {**os.environ, "HOME": str(home), "REMINDERD_STATE_DIR": str(tmp_path / "state"), "CLAUDE_CONFIG_DIR": ""}
    done = subprocess.run([sys.executable, "-m", "reminderd", "--config", str(config), "-v", "account", "--json"],
                          env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["balance"] == {"amount": 60.36, "currency": "USD"}
    assert TOKEN not in done.stdout + done.stderr
    assert TOKEN not in (tmp_path / "state" / "account.json").read_text()


# -- [account] in the config ------------------------------------------------------------------------


def test_the_account_table() -> None:
    assert parse_config(config_text(), "c.toml").account is None
    assert parse_config(config_text("[account]\nclaude = false\n"), "c.toml").account is None
    config = parse_config(config_text('[account]\nclaude = true\nlabel = "me@work"\npoll_minutes = 30\n'
                                      'organization = "abc-123"\ncredentials_file = "~/creds.json"\n'
                                      'api_base = "http://127.0.0.1:8765/"\n'), "c.toml")
    assert config.account == AccountSettings(True, Path("~/creds.json").expanduser(), "http://127.0.0.1:8765",
                                             "abc-123", "me@work", 30)
    assert parse_config(config_text("[account]\nclaude = true\n"), "c.toml").account == AccountSettings(claude=True)
    warned = parse_config(config_text('[account]\nlabel = "x"\n'), "c.toml")
    assert warned.account is None
    assert warned.warnings == ("c.toml: account.claude: not set: the account is not read (claude = true reads it)",)


@pytest.mark.parametrize(("line", "problem"), [
    ('claude = "yes"', 'account.claude: expected true or false, got "yes"'),  # (no claude = true added)
    ("poll_minutes = 5", "account.poll_minutes: expected a whole number of minutes from 15 to 1440, got 5"),
    ('api_base = "http://api.example.com"', "account.api_base: expected an https:// address (plain http only to "
     'this machine, for tests: it would send your login in the clear), got "http://api.example.com"'),
    ('api_base = "http://127.0.0.1.example.com"', "account.api_base: expected an https:// address (plain http"),
    ('api_base = "https://me:pw@api.anthropic.com"', "account.api_base: expected an https:// address such as "
     'https://api.anthropic.com, got "https://me:pw@api.anthropic.com"'),
    ('api_base = "https://api.anthropic.com/?x=1"', "account.api_base: expected an https:// address such as"),
    ('organization = "../../v1/x"', "account.organization: expected an organization id (letters, digits and '-'), "
     'got "../../v1/x"'),
    ("label = 3", "account.label: expected a non-empty line of text, got 3"),
])
def test_a_bad_account_value_is_one_line(line: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(config_text(f"[account]\n{'' if 'claude' in line else 'claude = true'}\n{line}\n"), "c.toml")
    assert len(caught.value.problems) == 1 and caught.value.problems[0].startswith(f"c.toml: {problem}")


def test_http_to_this_machine_only() -> None:
    for base in ("http://127.0.0.1:1", "http://[::1]:8", "http://localhost:8", "http://127.1.2.3"):
        assert parse_config(config_text(f'[account]\nclaude = true\napi_base = "{base}"\n'), "c").account


def test_init_writes_the_section_commented_out(cli: Callable[..., Result], tmp_path: Path) -> None:
    target = tmp_path / "new" / "config.toml"
    assert cli("--config", str(target), "init").exit_code == 0
    text = target.read_text()
    assert "\n# [account]\n# claude = true" in text and "sent only to api_base" in text
    assert parse_config(text, "t").account is None
    enabled = parse_config(text.replace("# [account]\n# claude = true", "[account]\nclaude = true"), "t")
    assert enabled.account == AccountSettings(claude=True)


def test_the_example_documents_every_key() -> None:
    example = (ROOT / "config.example.toml").read_text()
    for key in AccountSettings._fields:
        assert f"\n# {key} = " in example


# -- status: the account as last read, or read now within 5 s -----------------------------------------


def test_status_uses_the_account(api: FakeAccount, home: Path, write_config: Callable[[str], Path],
                                 cli: Callable[..., Result]) -> None:
    api.set("prepaid", Json({"amount": 4000, "currency": "USD", "promo_tranches": [
        {"remaining_amount_minor_units": 4000, "currency": "USD", "expires_at": "2026-04-08T16:30:00Z"}]}))
    path = write_config(config_text(f'[account]\nclaude = true\napi_base = "{api.url}"\n', credit=CREDIT))

    def status() -> dict[str, object]:
        result = cli("--config", str(path), "status", "--json", env={"HOME": str(home)})
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)  # type: ignore[no-any-return]

    document = status()
    credit = document["credits"][0]  # type: ignore[index]
    assert credit["expires_at"] == "2026-04-08T09:30:00-07:00"  # the account's, not the computed 04-07
    assert len(api.requests) == 3
    status()
    assert len(api.requests) == 3  # read within the poll interval: kept, not asked again


def test_status_goes_on_when_the_account_never_answers(api: FakeAccount, home: Path,
                                                       write_config: Callable[[str], Path],
                                                       cli: Callable[..., Result]) -> None:
    for part in ("usage", "prepaid", "grant"):
        api.set(part, Hang())
    path = write_config(config_text(f'[account]\nclaude = true\napi_base = "{api.url}"\n', credit=CREDIT))
    started = time.monotonic()
    result = cli("--config", str(path), "status", env={"HOME": str(home)})
    assert result.exit_code == 0 and "Expires" in result.stdout
    assert time.monotonic() - started < 6.0
    started = time.monotonic()
    assert cli("--config", str(path), "status", env={"HOME": str(home)}).exit_code == 0
    assert time.monotonic() - started < 1.0  # backing off: not asked again at once
