"""Service files, checked by the tools that load them; install/uninstall against a temporary home."""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import ROOT
from integration import require

from reminderd.cli import main
from reminderd.service import LABEL, command_line, launchd_plist, shipped_systemd_unit, systemd_unit


def test_shipped_files_are_what_the_code_renders() -> None:
    assert (ROOT / "systemd/reminderd.service").read_text() == shipped_systemd_unit()
    assert (ROOT / f"launchd/{LABEL}.plist").read_bytes() == launchd_plist(
        ["/Users/you/.local/bin/reminderd", "run"], Path("/Users/you"))


def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    analyze = require("systemd-analyze")
    executable = tmp_path / "bin" / "reminderd"
    executable.parent.mkdir()
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    unit = tmp_path / "reminderd.service"
    unit.write_text(systemd_unit([str(executable), "--config", str(tmp_path / "c.toml"), "run"]))
    runtime = tmp_path / "xdg-runtime"
    runtime.mkdir(mode=0o700)
    result = subprocess.run([analyze, "--user", "verify", str(unit)], capture_output=True, text=True,
                            env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)}, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "" and result.stdout.strip() == ""  # no warnings, e.g. unknown keys
    # and it does catch a broken unit
    unit.write_text(systemd_unit([str(tmp_path / "missing"), "run"]))
    broken = subprocess.run([analyze, "--user", "verify", str(unit)], capture_output=True, text=True,
                            env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)}, cwd=tmp_path, timeout=60)
    assert broken.returncode != 0 and "not executable" in broken.stderr


def test_unit_agrees_with_our_exit_codes() -> None:
    from reminderd.errors import AlreadyRunning, ConfigError

    unit = systemd_unit(["/x", "run"])
    assert f"RestartPreventExitStatus={AlreadyRunning.exit_code} {ConfigError.exit_code}" in unit
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit and "Restart=on-failure" in unit
    assert "WantedBy=graphical-session.target" in unit


def test_plist_loads_and_has_what_launchd_needs() -> None:
    plist = plistlib.loads((ROOT / f"launchd/{LABEL}.plist").read_bytes())
    assert plist["Label"] == LABEL == Path(f"{LABEL}.plist").stem
    assert plist["ProgramArguments"][-1] == "run"
    assert plist["RunAtLoad"] is True and plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["ProcessType"] == "Interactive"
    for key in ("StandardOutPath", "StandardErrorPath"):
        assert plist[key].startswith("/") and "~" not in plist[key]


def test_command_line_uses_the_running_executable(tmp_path: Path) -> None:
    script = tmp_path / "reminderd"
    script.write_text("")
    assert command_line(str(script)) == [str(script), "run"]
    assert command_line("/somewhere/__main__.py", tmp_path / "c.toml") == [
        sys.executable, "-m", "reminderd", "--config", str(tmp_path / "c.toml"), "run"]


@pytest.fixture
def home_cli(tmp_path: Path) -> Callable[..., Result]:
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "REMINDERD_STATE_DIR": str(home / "state"), "REMINDERD_CONFIG": None}

    def run(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)  # type: ignore[arg-type]
    return run


INSTALLED = {"systemd": "home/.config/systemd/user/reminderd.service",
             "launchd": f"home/Library/LaunchAgents/{LABEL}.plist"}


@pytest.mark.parametrize("kind", ["systemd", "launchd"])
def test_install_dry_run_writes_nothing(kind: str, home_cli: Callable[..., Result], tmp_path: Path) -> None:
    result = home_cli("install-service", "--for", kind, "--dry-run")
    assert result.exit_code == 0
    assert f"Would write {tmp_path / INSTALLED[kind]}" in result.stdout
    assert ("ExecStart=" if kind == "systemd" else "<key>ProgramArguments</key>") in result.stdout
    assert not (tmp_path / INSTALLED[kind]).exists()


@pytest.mark.parametrize("kind", ["systemd", "launchd"])
def test_install_then_uninstall(kind: str, home_cli: Callable[..., Result], tmp_path: Path) -> None:
    target = tmp_path / INSTALLED[kind]
    result = home_cli("install-service", "--for", kind)
    assert result.exit_code == 0, result.output
    assert f"Wrote {target}" in result.stdout
    expected_start = "systemctl --user enable --now reminderd.service" if kind == "systemd" else \
        f"launchctl bootstrap gui/$(id -u) {target}"
    assert expected_start in result.stdout
    content = target.read_bytes()
    if kind == "launchd":
        assert plistlib.loads(content)["ProgramArguments"][:2] == [sys.executable, "-m"]
    else:
        assert f"ExecStart={sys.executable} -m reminderd --config " in content.decode()
    again = home_cli("install-service", "--for", kind)
    assert again.exit_code == 0 and "Already up to date" in again.stdout
    removed = home_cli("uninstall-service", "--for", kind)
    assert removed.exit_code == 0 and f"Removed {target}" in removed.stdout
    assert not target.exists()
    assert "Nothing to remove" in home_cli("uninstall-service", "--for", kind).stdout


@pytest.mark.parametrize("kind", ["systemd", "launchd"])
def test_a_file_the_user_changed_is_not_overwritten_without_force(
        kind: str, home_cli: Callable[..., Result], tmp_path: Path) -> None:
    target = tmp_path / INSTALLED[kind]
    assert home_cli("install-service", "--for", kind).exit_code == 0
    target.write_bytes(target.read_bytes() + b"\n<!-- mine -->\n" if kind == "launchd"
                       else target.read_bytes() + b"\n# mine\n")
    refused = home_cli("install-service", "--for", kind)
    assert refused.exit_code == 73 and "changed since reminderd wrote it" in refused.stderr
    assert b"mine" in target.read_bytes()
    assert home_cli("uninstall-service", "--for", kind).exit_code == 73
    assert home_cli("install-service", "--for", kind, "--force").exit_code == 0
    assert b"mine" not in target.read_bytes()


def test_systemd_uninstall_refuses_while_enabled(home_cli: Callable[..., Result], tmp_path: Path) -> None:
    target = tmp_path / INSTALLED["systemd"]
    assert home_cli("install-service", "--for", "systemd").exit_code == 0
    wants = target.parent / "graphical-session.target.wants"
    wants.mkdir()
    (wants / "reminderd.service").symlink_to(target)
    result = home_cli("uninstall-service", "--for", "systemd")
    assert result.exit_code == 73 and "systemctl --user disable --now reminderd.service" in result.stderr
    assert target.exists()


def test_install_records_an_explicit_config(home_cli: Callable[..., Result], tmp_path: Path) -> None:
    config = tmp_path / "my.toml"
    result = home_cli("--config", str(config), "install-service", "--for", "systemd", "--dry-run")
    assert f"--config {config} run" in result.stdout


def test_init_writes_a_starter_config_and_never_overwrites(home_cli: Callable[..., Result], tmp_path: Path) -> None:
    result = home_cli("init")
    assert result.exit_code == 0, result.output
    written = tmp_path / "home/.config/reminderd/config.toml"
    assert f"Wrote {written}" in result.stdout
    text = written.read_text()
    assert "\n# claimed_at = " in text and "\nclaimed_at = " not in text
    status = home_cli("status", "--json", "--at", "2026-02-10T12:00")
    assert status.exit_code == 0, status.output
    written.write_text(text + "# my edit\n")
    again = home_cli("init")
    assert again.exit_code == 73 and "already exists" in again.stderr
    assert written.read_text().endswith("# my edit\n")


# -- the service runs what the user runs, quoted for systemd (issue 18 part 2, security L5) --------

WEIRD = 'cfg dir/100%h $HOME ${USER} \\x41 "q\' back\\slash'  # what shlex quoting let systemd interpret


def verify(unit_text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    analyze = require("systemd-analyze")
    unit = tmp_path / "reminderd.service"
    unit.write_text(unit_text)
    runtime = tmp_path / "xdg-runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    return subprocess.run([analyze, "--user", "verify", str(unit)], capture_output=True, text=True,
                          env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)}, cwd=tmp_path, timeout=60)


def test_systemd_reads_paths_with_spaces_specifiers_variables_quotes_and_backslashes(tmp_path: Path) -> None:
    # systemd runs the program only at the very path it unquoted, so a wrong escape of %, $ or a
    # space in it fails verification ("... is not executable")
    executable = tmp_path / "bin dir 100%h $HOME ${USER}" / "reminderd"
    executable.parent.mkdir()
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    config, state = tmp_path / WEIRD / "c.toml", tmp_path / WEIRD / "state"
    text = systemd_unit([str(executable), "--config", str(config), "run"], {"REMINDERD_STATE_DIR": str(state)})
    result = verify(text, tmp_path)
    assert result.returncode == 0 and (result.stdout + result.stderr).strip() == "", result.stderr
    # and by systemd.service(5)'s rules: %% is %, $$ is $ in an argument (not in the program's
    # path, which systemd does not expand), \\ and \" inside double quotes
    assert f'ExecStart="{executable.parent.as_posix().replace("%", "%%")}/reminderd" --config ' \
           f'"{tmp_path}/cfg dir/100%%h $$HOME $${{USER}} \\\\x41 \\"q\' back\\\\slash/c.toml" run\n' in text
    assert f'Environment="REMINDERD_STATE_DIR={tmp_path}/cfg dir/100%%h $HOME ${{USER}} \\\\x41 \\"q\' ' \
           'back\\\\slash/state"\n' in text
    assert text.count("\n") == shipped_systemd_unit().count("\n") + 1  # one line more: Environment=


def test_a_line_break_in_a_path_is_refused_not_written_into_the_unit(home_cli: Callable[..., Result],
                                                                      tmp_path: Path) -> None:
    config = tmp_path / "x\nExecStartPost=/bin/touch pwned\n#" / "c.toml"
    result = home_cli("--config", str(config), "install-service", "--for", "systemd")
    assert result.exit_code == 73 and len(result.stderr.splitlines()) == 1
    assert "control character" in result.stderr and result.stdout == ""
    assert not (tmp_path / INSTALLED["systemd"]).exists()
    assert home_cli("--config", str(config), "install-service", "--for", "launchd").exit_code == 73


def test_a_program_path_systemd_cannot_run_is_refused_in_one_line() -> None:
    from reminderd.errors import ServiceError

    with pytest.raises(ServiceError, match=r"quote or a backslash"):
        systemd_unit(['/opt/it\'s/reminderd', "run"])


@pytest.mark.parametrize("how", ["--config", "REMINDERD_CONFIG"])
def test_the_service_runs_the_config_and_state_the_command_uses(how: str, tmp_path: Path) -> None:
    # issue 18: `REMINDERD_CONFIG=... install-service` wrote a bare `reminderd run`, so the service
    # read another config (exit 78) or another state (repeats, lost readings)
    home = tmp_path / "home"
    config, state = tmp_path / WEIRD / "my.toml", tmp_path / "my state"
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "REMINDERD_STATE_DIR": str(state),
           "REMINDERD_CONFIG": str(config) if how == "REMINDERD_CONFIG" else None}
    args = ["--config", str(config)] if how == "--config" else []

    def run(*more: str) -> Result:
        return CliRunner().invoke(main, [*args, *more], env=env, catch_exceptions=False)  # type: ignore[arg-type]

    assert run("install-service", "--for", "systemd").exit_code == 0
    unit = (tmp_path / INSTALLED["systemd"]).read_text()
    assert f'Environment="REMINDERD_STATE_DIR={state}"' in unit
    assert " --config " in unit and "$$HOME" in unit  # the config path, escaped for systemd
    result = verify(unit, tmp_path)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr
    assert run("install-service", "--for", "launchd").exit_code == 0
    plist = plistlib.loads((tmp_path / INSTALLED["launchd"]).read_bytes())
    assert plist["ProgramArguments"][-3:] == ["--config", str(config), "run"]
    assert plist["EnvironmentVariables"] == {"REMINDERD_STATE_DIR": str(state)}


def test_plist_keeps_any_path_as_data(tmp_path: Path) -> None:
    command = [str(tmp_path / WEIRD / "reminderd"), "--config", str(tmp_path / WEIRD / "c.toml"), "run"]
    plist = plistlib.loads(launchd_plist(command, tmp_path, {"REMINDERD_STATE_DIR": str(tmp_path / WEIRD)}))
    assert plist["ProgramArguments"] == command
    assert plist["EnvironmentVariables"] == {"REMINDERD_STATE_DIR": str(tmp_path / WEIRD)}
