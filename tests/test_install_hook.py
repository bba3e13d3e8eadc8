"""`reminderd install-hook`: merged into generated settings files (Hypothesis), install then uninstall
gives back the same JSON value in its order; the command it writes runs, and runs to nothing once
reminderd is gone; files that are not JSON are refused with nothing written."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_statusline import SCRIPT

from reminderd import install_hook as ih

HERE = Path("settings.json")
HOOK = ih.command("hook", Path("/opt/r d/bin/reminderd"), Path("/home/u/.local/state/reminderd"), Path("/c.toml"))
STATUS = ih.command("statusline", Path("/opt/r d/bin/reminderd"), Path("/s"), Path("/c.toml"))

scalars = (st.none() | st.booleans() | st.integers(-(2**80), 2**80) | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                           max_size=3), max_leaves=12)
entries = st.fixed_dictionaries({"type": st.just("command"), "command": st.text(max_size=30)},
                                optional={"timeout": st.integers(1, 600)})
groups = st.fixed_dictionaries({"hooks": st.lists(entries, max_size=3)}, optional={"matcher": st.text(max_size=8)})
events = st.dictionaries(st.sampled_from(["SessionStart", "Stop", "StopFailure", "PreToolUse", "UserPromptSubmit"]),
                         st.lists(groups, max_size=3), max_size=3)
status_lines = st.fixed_dictionaries({"type": st.just("command"), "command": st.text(max_size=30)},
                                     optional={"padding": st.integers(0, 3)}) | values


@st.composite
def settings_texts(draw: st.DrawFn) -> str:
    """A settings.json as a person or a tool might have written it."""
    others = draw(st.dictionaries(st.text(max_size=10).filter(lambda k: k not in ("hooks", "statusLine")), values,
                                  max_size=5))
    items = list(others.items())
    for key, strategy in (("hooks", events), ("statusLine", status_lines)):
        if draw(st.booleans()):
            items.insert(draw(st.integers(0, len(items))), (key, draw(strategy)))
    return json.dumps(dict(items), ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 2, 4, "\t"])))


def ordered(text: str) -> Any:
    """The JSON value with the order of its keys (objects as lists of pairs)."""
    return json.loads(text, object_pairs_hook=list)


@given(settings_texts(), st.booleans())
def test_install_then_uninstall_gives_back_the_same_json_in_its_order(text: str, status_line: bool) -> None:
    before = ih.parse(text, HERE)
    installed = ih.install(before, HOOK, STATUS if status_line else None, True, {}, HERE)
    written = ih.dump(installed.settings)
    again = ih.install(ih.parse(written, HERE), HOOK, STATUS if status_line else None, True, installed.record, HERE)
    assert again.notes == () and ih.dump(again.settings) == written  # idempotent
    hooks = json.loads(written)["hooks"]["SessionStart"]
    assert sum(ih.is_ours(e.get("command"), "hook") for g in hooks for e in g.get("hooks", [])) == 1
    others = [(k, v) for k, v in ordered(written) if k not in ("hooks", "statusLine")]
    assert others == [(k, v) for k, v in ordered(text) if k not in ("hooks", "statusLine")]
    removed = ih.uninstall(ih.parse(written, HERE), installed.record)
    assert ordered(ih.dump(removed.settings)) == ordered(text)


@given(settings_texts())
def test_uninstall_without_a_record_removes_only_what_is_ours(text: str) -> None:
    installed = ih.install(ih.parse(text, HERE), HOOK, None, False, {}, HERE)
    removed = json.loads(ih.dump(ih.uninstall(installed.settings, {}).settings))
    original = json.loads(text)
    for event, groups in original.get("hooks", {}).items():
        assert removed["hooks"][event] == groups
    assert not ih.is_ours(json.dumps(removed), "hook") and "REMINDERD_STATE_DIR" not in json.dumps(removed)


def test_numbers_keep_their_text() -> None:
    text = '{"a": 1.0, "b": 1e400, "c": 12345678901234567890123, "d": -0.0, "e": 1E-7, "f": [0.10, 2]}'
    assert ih.dump(ih.parse(text, HERE)) == ('{\n  "a": 1.0,\n  "b": 1e400,\n  "c": 12345678901234567890123,\n'
                                             '  "d": -0.0,\n  "e": 1E-7,\n  "f": [\n    0.10,\n    2\n  ]\n}')


@pytest.mark.parametrize(("text", "why"), [
    ('{\n  // my settings\n  "model": "opus"\n}', "comments are not JSON"),
    ('{"model": "opus",}', "not valid JSON"),
    ('{"a": NaN}', "NaN is not JSON"),
    ("[1, 2]", "expected a JSON object, got an array"),
    ('{"hooks": []}', "hooks: expected an object, got an array"),
    ('{"hooks": {"SessionStart": {}}}', "hooks.SessionStart: expected an array, got an object"),
    ("\ufeff{}", "not valid JSON"),
    ("[" * 5000 + "]" * 5000, "not valid JSON"),
])
def test_refused(text: str, why: str) -> None:
    with pytest.raises(ih.SettingsError) as raised:
        ih.install(ih.parse(text, HERE), HOOK, None, False, {}, HERE)
    message = str(raised.value)
    assert why in message and message.startswith("settings.json: ") and message.endswith("nothing written")
    assert "\n" not in message


def test_a_status_line_of_the_users_stays_unless_forced_then_comes_back() -> None:
    mine = {"type": "command", "command": "~/bin/my-line.sh", "padding": 1}
    settings = {"model": "opus", "statusLine": mine, "env": {"A": "1"}}
    with pytest.raises(ih.SettingsError, match="statusLine: you have a status line already"):
        ih.install(settings, HOOK, STATUS, False, {}, HERE)
    forced = ih.install(settings, HOOK, STATUS, True, {}, HERE)
    assert list(forced.settings) == ["model", "statusLine", "env", "hooks"]
    assert forced.settings["statusLine"]["command"] == STATUS and any("replaced" in n for n in forced.notes)
    assert json.loads(ih.dump(ih.uninstall(forced.settings, forced.record).settings)) == settings
    assert ih.install(settings, HOOK, None, False, {}, HERE).settings["statusLine"] == mine  # not asked: untouched


def test_another_reminderd_or_state_dir_is_updated_in_place() -> None:
    installed = ih.install({}, HOOK, STATUS, False, {}, HERE)
    moved_hook = ih.command("hook", Path("/new/reminderd"), Path("/s2"), Path("/c2.toml"))
    moved = ih.install(installed.settings, moved_hook, STATUS, False, installed.record, HERE)
    assert moved.notes and json.dumps(moved.settings).count("REMINDERD_STATE_DIR") == 2
    assert moved.settings["hooks"]["SessionStart"][0]["hooks"][0]["command"] == moved_hook


# -- the command, for real --------------------------------------------------------------------------


def test_the_command_runs_this_reminderd_and_nothing_once_it_is_gone(tmp_path: Path) -> None:
    state, config = tmp_path / "state dir", tmp_path / "it's config.toml"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    line = ih.command("statusline", Path(SCRIPT), state, config)
    done = subprocess.run(["sh", "-c", line], input=b"{}", capture_output=True, env=env, timeout=30)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"\x1b[2mreminderd: summary not ready\x1b[0m\n", b"")
    gone = ih.command("hook", tmp_path / "uninstalled" / "reminderd", state, config)
    done = subprocess.run(["sh", "-c", gone], input=b'{"hook_event_name": "SessionStart"}', capture_output=True,
                          env=env, timeout=30)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")


# -- through the command line ----------------------------------------------------------------------


OTHER = {"model": "opus", "hooks": {"SessionStart": [{"matcher": "startup", "hooks": [
    {"type": "command", "command": "echo hi"}]}], "Stop": [{"hooks": [{"type": "command", "command": "notify"}]}]},
    "permissions": {"allow": ["Bash(ls:*)"]}, "number": 1.50}


def test_install_dry_run_uninstall(cli, tmp_path: Path, state_dir: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "claude" / "settings.json"
    path.parent.mkdir()
    original = json.dumps(OTHER, indent=4)
    path.write_text(original)
    os.chmod(path, 0o640)
    config = tmp_path / "config.toml"
    dry = cli("--config", str(config), "install-hook", "--statusline", "--dry-run", "--settings", str(path))
    assert dry.exit_code == 0 and dry.stdout.startswith(f"Would change {path}: added reminderd's SessionStart hook")
    assert '+  "statusLine": {' in dry.stdout and path.read_text() == original
    assert not path.with_name("settings.json.reminderd-backup").exists()
    done = cli("--config", str(config), "install-hook", "--statusline", "--settings", str(path))
    assert done.exit_code == 0, done.stderr
    assert f"{path}: added reminderd's SessionStart hook; added reminderd's status line." in done.stdout
    assert "run `reminderd status` once now" in done.stdout
    written = json.loads(path.read_text())
    assert list(written) == ["model", "hooks", "permissions", "number", "statusLine"]
    assert written["hooks"]["Stop"] == OTHER["hooks"]["Stop"]  # type: ignore[index]
    ours = written["hooks"]["SessionStart"][1]["hooks"][0]["command"]
    assert ours == ih.command("hook", Path(SCRIPT), state_dir.absolute(), config.absolute())
    assert "'" + SCRIPT + "'" in ours or SCRIPT in ours
    assert path.with_name("settings.json.reminderd-backup").read_text() == original
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert cli("--config", str(config), "install-hook", "--statusline", "--settings", str(path)).stdout == \
        f"Already installed in {path}; nothing written.\n"
    removed = cli("--config", str(config), "install-hook", "--uninstall", "--settings", str(path))
    assert removed.exit_code == 0 and "removed reminderd's SessionStart hook" in removed.stdout
    assert ordered(path.read_text()) == ordered(original)


def test_comments_are_refused_with_one_line_and_nothing_written(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "settings.json"
    path.write_text('{\n  /* mine */ "model": "opus"\n}\n')
    done = cli("install-hook", "--settings", str(path))
    assert done.exit_code == 73 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "comments are not JSON" in done.stderr
    assert path.read_text() == '{\n  /* mine */ "model": "opus"\n}\n' and len(list(tmp_path.iterdir())) == 1


def test_a_status_line_is_replaced_only_with_force_and_given_back(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "settings.json"
    original = '{"statusLine": {"type": "command", "command": "ccstatusline", "padding": 0}}'
    path.write_text(original)
    refused = cli("install-hook", "--statusline", "--settings", str(path))
    assert refused.exit_code == 73 and "--force replaces it" in refused.stderr and path.read_text() == original
    forced = cli("install-hook", "--statusline", "--force", "--settings", str(path))
    assert forced.exit_code == 0 and "replaced your status line" in forced.stdout
    assert "ccstatusline" in path.with_name("settings.json.reminderd-backup").read_text()
    assert cli("install-hook", "--uninstall", "--settings", str(path)).exit_code == 0
    assert json.loads(path.read_text()) == json.loads(original)


def test_the_default_settings_file(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    done = cli("install-hook", env={"CLAUDE_CONFIG_DIR": str(tmp_path / "cc")})
    assert done.exit_code == 0 and (tmp_path / "cc" / "settings.json").exists()
    assert oct(os.stat(tmp_path / "cc" / "settings.json").st_mode & 0o777) == "0o600"
    assert ih.settings_path({"HOME": "/h"}) == Path(os.path.expanduser("~")) / ".claude" / "settings.json"
