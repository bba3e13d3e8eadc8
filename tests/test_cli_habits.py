"""The habits of the terminal: global options anywhere, one line for every bad value, Ctrl-C,
amounts as people paste them, relative dates, shell completion, extras and the man page."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from conftest import ROOT
from freezegun import freeze_time

from reminderd.cli import main

EXAMPLE = str(ROOT / "config.example.toml")
Cli = Callable[..., Result]


def test_global_options_work_after_the_command_too(cli: Cli, tmp_path: Path) -> None:
    before = cli("--config", EXAMPLE, "status", "--json", "--at", "2026-03-01T09:00")
    after = cli("status", "--config", EXAMPLE, "--json", "-v", "--at", "2026-03-01T09:00")
    assert after.exit_code == 0, after.stderr
    assert after.stdout == before.stdout
    # the one given after the command wins, as the nearer one does in khal and git
    nowhere = str(tmp_path / "nowhere.toml")
    assert cli("--config", nowhere, "status", "--config", EXAMPLE, "--at", "2026-03-01").exit_code == 0
    assert cli("--config", EXAMPLE, "status", "--config", nowhere).exit_code == 78
    for name, command in main.commands.items():  # every command takes them
        assert {"--config", "-v"} <= {o for p in command.params for o in p.opts}, name


@pytest.mark.parametrize("args,line", [
    (["balance", "-5", "--at", "2026-02-20"],
     "AMOUNT: expected a remaining balance in USD from 0 to 1,000,000, got -5"),
    (["balance", "31,40"], "AMOUNT: expected an amount in USD such as 31.40, $31.40 or \"USD 31.40\" (a point "
                           "before the cents), got '31,40'"),
    (["balance", "--", "-1"], "AMOUNT: expected a remaining balance in USD from 0 to 1,000,000, got -1"),
    (["balance", "abc"], "AMOUNT: expected an amount in USD such as 31.40, $31.40 or \"USD 31.40\" (a point "
                         "before the cents), got 'abc'"),
    (["usage", "--days", "0"], "--days: expected a whole number from 1 to 400, got '0'"),
    (["usage", "--days", "many"], "--days: expected a whole number from 1 to 400, got 'many'"),
    (["install-service", "--for", "upstart"], "--for: expected one of systemd, launchd, got 'upstart'"),
    (["done"], "ACTION: expected one of extra-usage-off, auto-reload-off, usage-credits-off for claude-feb-2026, "
               "got nothing"),
    (["status", "--bogus"], "no such option '--bogus'; did you mean '--verbose'? (`reminderd status --help` lists "
                            "what it takes)"),
    (["stauts"], "no such command 'stauts' (did you mean one of: 'status', 'statusline'?) "
                 "(`reminderd --help` lists what it takes)"),
    (["status", "extra"], "got unexpected extra argument (extra) (`reminderd status --help` lists what it takes)"),
    (["status", "--at"], "option '--at' requires an argument"),
    (["status", "--at", "2026-02-30"], "--at: expected a day and time the calendar has, got '2026-02-30' (day is "
                                       "out of range for month)"),
])
def test_every_bad_command_line_value_is_one_line_and_exit_2(cli: Cli, args: list[str], line: str) -> None:
    # checks-43ba1b3.md F4: click's usage block ("Usage: ... Try ... Error: ...") for 8 of them
    result = cli("--config", EXAMPLE, *args)
    assert result.exit_code == 2
    assert result.stderr == f"reminderd: {line}\n"
    assert result.stdout == ""


def test_an_unreadable_config_is_one_line_and_exit_78(tmp_path: Path) -> None:
    # checks-43ba1b3.md F3: click's usage block and exit 2 ("Path ... is not readable")
    argv = [sys.executable, "-m", "reminderd"]
    folder = tmp_path
    if os.geteuid() == 0:  # root reads anything: run as nobody, in a folder nobody may enter
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv")
        argv = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
        folder = Path(tempfile.mkdtemp(prefix="reminderd-f3-", dir="/tmp"))
        folder.chmod(0o755)
    config = folder / "config.toml"
    try:
        shutil.copy(EXAMPLE, config)
        config.chmod(0)
        result = subprocess.run([*argv, "--config", str(config), "status"], capture_output=True, text=True,
                                cwd=ROOT, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT),
                                                           "REMINDERD_STATE_DIR": str(folder / "state")})
    finally:
        if folder != tmp_path:
            shutil.rmtree(folder)
    assert result.returncode == 78, result.stderr
    assert result.stderr == f"reminderd: {config}: cannot read the config file: Permission denied\n"


@pytest.mark.parametrize("typed", [["31.40"], ["$31.40"], ["USD", "31.40"], ["USD 31.40"], ["31.40", "USD"],
                                   ["--", "31.40"], ["US$31.40"]])
def test_balance_takes_the_amount_as_people_paste_it(cli: Cli, state_dir: Path, typed: list[str]) -> None:
    result = cli("--config", EXAMPLE, "balance", "--at", "2026-02-20T10:00", *typed)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("Recorded a balance of USD 31.40 for claude-feb-2026 at Fri 2026-02-20 10:00 PST")


def test_options_after_a_double_dash_are_named(cli: Cli) -> None:
    result = cli("--config", EXAMPLE, "balance", "--", "31.40", "--at", "2026-02-20")
    assert result.exit_code == 2 and "options such as --at go before a `--`" in result.stderr


def test_ctrl_c_on_a_one_off_command_exits_130_without_a_traceback(tmp_path: Path) -> None:
    # a calendar server that accepts the connection and never answers: sync-calendar waits on it
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        config = tmp_path / "config.toml"
        config.write_text((ROOT / "config.example.toml").read_text()
                          + f'\n[calendar]\ncaldav_url = "http://127.0.0.1:{server.getsockname()[1]}/cal/"\n'
                          'password_command = ["printf", "x"]\n')  # no keyring asked
        proc = subprocess.Popen([sys.executable, "-m", "reminderd", "--config", str(config), "sync-calendar"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                                env={**os.environ, "REMINDERD_STATE_DIR": str(tmp_path / "state")})
        server.settimeout(30)
        connection, _ = server.accept()  # reminderd is now waiting for an answer
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        connection.close()
    assert proc.returncode == 130, err
    assert b"Traceback" not in err and b"Aborted" not in err and out == b""


@freeze_time("2026-02-20T18:00:00Z")  # 10:00 PST
@pytest.mark.parametrize("typed,shown", [
    ("now", "Fri 2026-02-20 10:00 PST"), ("today", "Fri 2026-02-20 00:00 PST"),
    ("today 14:00", "Fri 2026-02-20 14:00 PST"), ("Yesterday 09:30", "Thu 2026-02-19 09:30 PST"),
    ("yesterday", "Thu 2026-02-19 00:00 PST"), ("tomorrow", "Sat 2026-02-21 00:00 PST"),
])
def test_at_takes_words_for_days(cli: Cli, typed: str, shown: str) -> None:
    result = cli("--config", EXAMPLE, "status", "--at", typed)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"As of {shown} (America/Los_Angeles)")


def test_completion_offers_the_actions_and_credit_ids(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[[credit]]\nid = "personal"\n[[credit]]\nid = "work"\n')

    def complete(line: str) -> list[str]:
        words = line.split()
        cword = len(words) if line.endswith(" ") else len(words) - 1
        result = subprocess.run([sys.executable, "-m", "reminderd"], capture_output=True, text=True, cwd=ROOT,
                                timeout=60, env={**os.environ, "_REMINDERD_COMPLETE": "bash_complete",
                                                 "COMP_WORDS": line, "COMP_CWORD": str(cword),
                                                 "REMINDERD_CONFIG": str(config), "PYTHONPATH": str(ROOT)})
        return [entry.split(",", 1)[1] for entry in result.stdout.splitlines()]

    assert complete("reminderd done ") == ["extra-usage-off", "auto-reload-off", "usage-credits-off"]
    assert complete("reminderd done a") == ["auto-reload-off"]
    assert complete("reminderd claim --credit w") == ["work"]
    assert complete("reminderd st") == ["status", "statusline"]


def test_the_committed_man_page_is_what_the_help_makes_now() -> None:
    from reminderd.manpage import manpage

    committed = (ROOT / "man" / "reminderd.1").read_text(encoding="utf-8")
    assert committed == manpage(), "run: python -m reminderd.manpage > man/reminderd.1"
    for name in main.commands:
        assert ".SS reminderd " + name.replace("-", "\\-") in committed
    import re

    from reminderd.manpage import EXIT_STATUS

    readme_codes = {int(code) for code in re.findall(r"^\| (\d+) \|", (ROOT / "README.md").read_text(), re.M)}
    assert {code for code, _ in EXIT_STATUS} == readme_codes  # the man page and the README's table agree
    assert not (shutil.which("man") and shutil.which("nroff")) or subprocess.run(
        ["man", "--warnings", "-l", "-Tutf8", str(ROOT / "man" / "reminderd.1")], capture_output=True, text=True,
        timeout=60, env={**os.environ, "MANWIDTH": "80"}).stderr == ""


def test_version_lists_the_extras() -> None:
    result = subprocess.run([sys.executable, "-c", "import sys; sys.modules['caldav'] = None\n"
                             "from reminderd.cli import main; main(['--version'])"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("reminderd, version ")
    assert any(line.startswith("  push ") and "installed (apprise " in line for line in lines)
    caldav = next(line for line in lines if line.startswith("  caldav "))
    assert caldav.endswith(f"not installed: {sys.executable} -m pip install 'reminderd[caldav]'")


def test_a_missing_extra_is_its_own_message_and_exit_code(tmp_path: Path) -> None:
    # newuser 16: exit 69, the code of an unreachable server
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.example.toml").read_text()
                      + '\n[calendar]\ncaldav_url = "http://127.0.0.1:9/cal/"\n')
    result = subprocess.run([sys.executable, "-c", "import sys; sys.modules['caldav'] = None\n"
                             "from reminderd.cli import main; main()", "--config", str(config), "sync-calendar"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60,
                            env={**os.environ, "REMINDERD_STATE_DIR": str(tmp_path / "state")})
    assert result.returncode == 78
    assert result.stderr == ("reminderd: calendar sync: the caldav extra (caldav) is not installed here: "
                             f"{sys.executable} -m pip install 'reminderd[caldav]'\n")


def test_init_with_a_config_path_says_how_to_reach_it(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "my config.toml"
    result = cli("--config", str(target), "init")
    assert result.exit_code == 0
    assert f"run `reminderd --config '{target}' status`" in result.stdout
    plain = cli("init", env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert "run `reminderd status`" in plain.stdout, plain.stderr

