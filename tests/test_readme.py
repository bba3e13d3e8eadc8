"""The README's examples are run, and what they print is compared with what the README shows.

Every fenced block holding `$ reminderd ...` lines is a session: each command runs, in the order
of the README, in one throw-away home (shown as /home/you) with the clock stopped at NOW, and its
output (stdout and stderr, as a terminal shows them) must be the lines under it. Commands that
need a desktop (notify-test, run) are skipped.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT
from freezegun import freeze_time

from reminderd.cli import main

NOW = "2026-02-20T20:00:00-08:00"  # where the examples' dates matter they give --at
NEEDS_A_DESKTOP = {"notify-test", "run"}
BLOCK = re.compile(r"^( *)```[a-z]*\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def examples(readme: str) -> list[tuple[str, str]]:
    """(command line, expected output) for every `$ reminderd` line, in the README's order."""
    out = []
    for _, body in BLOCK.findall(readme):
        lines = textwrap.dedent(body).splitlines()
        if not any(line.startswith("$ reminderd") for line in lines):
            continue
        for index, line in enumerate(lines):
            if line.startswith("$ "):
                printed = []
                for following in lines[index + 1:]:
                    if following.startswith("$ "):
                        break
                    printed.append(following)
                out.append((line[2:], "".join(p + "\n" for p in printed)))
    return out


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "you"
    home.mkdir()
    for name in ("REMINDERD_CONFIG", "REMINDERD_STATE_DIR", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "CLAUDE_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "no-runtime-dir"))
    monkeypatch.setenv("TZ", "America/Los_Angeles")  # `init` writes the system's zone
    monkeypatch.chdir(ROOT)  # the examples name config.example.toml, as from a clone
    time.tzset()
    yield home
    monkeypatch.undo()
    time.tzset()


def test_the_readme_examples_print_what_the_readme_shows(home: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = examples(readme)
    assert len(found) >= 8
    ran = set()
    for line, expected in found:
        words = [str(home) + word[1:] if word.startswith("~/") else word for word in shlex.split(line)]
        assert words[0] == "reminderd", line
        command = next(word for word in words[1:] if not word.startswith("-") and not word.endswith(".toml"))
        if command in NEEDS_A_DESKTOP:
            continue
        # init reads the host's zone and its UTC offset, which a stopped clock cannot give
        with contextlib.nullcontext() if command == "init" else freeze_time(NOW):
            result = CliRunner().invoke(main, words[1:], catch_exceptions=False)
        assert result.exit_code == 0, (line, result.output)
        assert result.output.replace(str(home), "/home/you") == expected, line
        ran.add(command)
    assert {"init", "claim", "status", "balance", "done", "export-ics", "install-service"} <= ran


def test_every_example_block_is_found() -> None:
    text = "x\n\n   ```\n   $ reminderd a\n   one\n   $ reminderd b\n   ```\n\n```sh\nls\n```\n"
    assert examples(text) == [("reminderd a", "one\n"), ("reminderd b", "")]


def test_every_key_status_json_gives_is_in_the_readme_contract() -> None:
    """The contract section names every key `status --json` emits, here for a configured credit with
    a reading and a profile, and a credit found in the account."""
    from datetime import UTC, datetime

    from conftest import la, make_config

    from reminderd.facts import AccountFacts, Facts, GrantedCredit, Money
    from reminderd.forecast import Observation
    from reminderd.instance import DaemonInfo
    from reminderd.report import status_json
    from reminderd.state import State
    from reminderd.timeline import plan

    section = (ROOT / "README.md").read_text().split("## `status --json` contract")[1].split("\n## ")[0]
    now = la(2026, 3, 1, 12)
    state = State(observations={"c": (Observation(la(2026, 2, 20, 9), 31.4),)})
    account = AccountFacts(now, True, credits=(GrantedCredit(Money(300, "USD"), datetime(2026, 3, 20, tzinfo=UTC)),))
    config = make_config('claimed_at = 2026-02-06T09:30:00\n[credit.usage]\ndaily_spend_usd = 1.0\n')
    document = status_json(plan(config, state, now, Facts(account=account)), state, DaemonInfo(False, None, None))

    def keys(value: object, skip: bool = False) -> set[str]:
        if isinstance(value, dict):
            own = set() if skip else set(value)
            return own | {k for key, v in value.items() for k in keys(v, key in ("acknowledged",))}
        if isinstance(value, list):
            return {k for item in value for k in keys(item)}
        return set()

    missing = sorted(key for key in keys(document) if f"`{key}`" not in section and f"`{key}[]`" not in section)
    assert missing == [], missing
