"""`reminderd install-hook`: merged into generated settings files (Hypothesis), install then uninstall
gives back the same JSON value in its order; the command it writes runs as Claude Code runs it, prints
the line and the warning, imports nothing that costs, and runs to nothing once reminderd is gone; the
form older versions wrote is updated and removed; files that are not JSON are refused with nothing
written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import GOLDEN
from hypothesis import example, given
from hypothesis import strategies as st
from test_statusline import INPUT, SCRIPT, THREE_DAYS, TOMORROW, write

from reminderd import install_hook as ih

HERE = Path("settings.json")
SESSION_START = (GOLDEN / "claude_code_hook_input.json").read_bytes()  # Claude Code 2.1.332's
LAUNCH = ih.Launch(Path("/opt/r d/bin/python3"), Path("/opt/r d/lib/python3.11/site-packages/reminderd/entry.py"),
                   "cpython-311")
HOOK = ih.command("hook", LAUNCH, Path("/home/u/.local/state/reminderd"), Path("/c.toml"))
STATUS = ih.command("statusline", LAUNCH, Path("/s"), Path("/c.toml"))
# What reminderd 0.1.0 wrote (its console script, by path), as it stands in users' settings.json.
LEGACY_HOOK = ("sh -c 'if [ -x \"$0\" ]; then REMINDERD_STATE_DIR=\"$1\" exec \"$0\" --config \"$2\" hook; fi' "
               "'/opt/r d/bin/reminderd' /home/u/.local/state/reminderd /c.toml")
LEGACY_STATUS = ("sh -c 'if [ -x \"$0\" ]; then REMINDERD_STATE_DIR=\"$1\" exec \"$0\" --config \"$2\" statusline "
                 "--color; fi' '/opt/r d/bin/reminderd' /s /c.toml")

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
@example('{"hooks": {"SessionStart": [{"hooks": [{"type": "command", "command": "REMINDERD_STATE_DIR"}]}]}}')
def test_uninstall_without_a_record_removes_only_what_is_ours(text: str) -> None:
    installed = ih.install(ih.parse(text, HERE), HOOK, None, False, {}, HERE)
    removed = json.loads(ih.dump(ih.uninstall(installed.settings, {}).settings))
    original = json.loads(text)
    for event, groups in original.get("hooks", {}).items():
        assert removed["hooks"][event] == groups
    mark = "REMINDERD_STATE_DIR"  # in our command; another program's hook may hold it too, and stays
    assert not ih.is_ours(json.dumps(removed), "hook") and json.dumps(removed).count(mark) == text.count(mark)


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
    moved_hook = ih.command("hook", ih.Launch(Path("/new/python"), Path("/new/reminderd/entry.py"), "cpython-312"),
                            Path("/s2"), Path("/c2.toml"))
    moved = ih.install(installed.settings, moved_hook, STATUS, False, installed.record, HERE)
    assert moved.notes and json.dumps(moved.settings).count("REMINDERD_STATE_DIR") == 2
    assert moved.settings["hooks"]["SessionStart"][0]["hooks"][0]["command"] == moved_hook


def claude_settings(hook: str, status_line: str) -> dict[str, Any]:
    """A settings.json as Claude Code and a person leave it, with reminderd's hook and status line."""
    return {"model": "opus", "hooks": {"SessionStart": [
        {"matcher": "startup", "hooks": [{"type": "command", "command": "echo hi"}]},
        {"hooks": [{"type": "command", "command": hook, "timeout": 10}]}],
        "Stop": [{"hooks": [{"type": "command", "command": "notify"}]}]},
        "statusLine": {"type": "command", "command": status_line, "padding": 0, "refreshInterval": 60},
        "permissions": {"allow": ["Bash(ls:*)"]}}


def test_the_form_older_versions_wrote_is_updated_in_place_and_removed() -> None:
    assert ih.is_ours(LEGACY_HOOK, "hook") and ih.is_ours(LEGACY_STATUS, "statusline")
    assert not ih.is_ours(LEGACY_HOOK, "statusline") and not ih.is_ours(LEGACY_STATUS, "hook")
    old = claude_settings(LEGACY_HOOK, LEGACY_STATUS)
    updated = ih.install(old, HOOK, STATUS, False, {}, HERE)
    assert updated.notes == ("updated reminderd's SessionStart hook (another Python, state directory or config, or "
                             "an older form)", "updated reminderd's status line")
    assert updated.settings == claude_settings(HOOK, STATUS)  # in its place, nothing else touched
    bare = {k: v for k, v in old.items() if k != "statusLine"}
    bare["hooks"] = {**old["hooks"], "SessionStart": old["hooks"]["SessionStart"][:1]}
    assert ih.uninstall(old, {}).settings == bare
    both = claude_settings(HOOK, LEGACY_STATUS)  # a new hook and an old status line, and one more old hook
    both["hooks"]["SessionStart"].append({"hooks": [{"type": "command", "command": LEGACY_HOOK}]})
    removed = ih.uninstall(both, {})
    assert removed.settings == bare
    assert removed.notes == ("removed reminderd's SessionStart hook", "removed reminderd's status line")


# -- the command, for real --------------------------------------------------------------------------

RED_TOMORROW = "\x1b[1;31mClaude usage credit expires in 23 hours 30 minutes: turn usage credits off\x1b[0m\n"


def as_claude_code_runs(command: str, stdin: bytes, cwd: Path, now: Any = TOMORROW) -> tuple[int, bytes, bytes]:
    """`command` the way Claude Code 2.1.332 runs a hook or status line: /bin/sh -c, in the project."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(cwd), "LANG": "C.UTF-8", "REMINDERD_NOW": now.isoformat(),
           "PYTHONPATH": str(cwd), "COLUMNS": "200"}
    done = subprocess.run(["/bin/sh", "-c", command], input=stdin, capture_output=True, env=env, cwd=cwd, timeout=30)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Where Claude Code runs the commands: a project whose own `reminderd` and `re` must not be imported."""
    directory = tmp_path / "my project"
    (directory / "reminderd").mkdir(parents=True)
    for name in ("reminderd/__init__.py", "re.py", "json.py", "datetime.py"):
        (directory / name).write_text("raise SystemExit('imported from the project')\n")
    return directory


@pytest.fixture
def bare_python(tmp_path: Path) -> Path:
    """A venv with nothing installed in it, in a folder with spaces: not even reminderd's dependencies."""
    venv = tmp_path / "a venv" / "with spaces"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    return venv / "bin" / "python"


def test_what_install_hook_writes_prints_the_line_and_the_warning(cli, tmp_path: Path, project: Path) -> None:  # type: ignore[no-untyped-def]
    state, config = tmp_path / "state dir", tmp_path / "it's config.toml"
    path = tmp_path / "claude" / "settings.json"
    path.parent.mkdir()
    path.write_text(json.dumps(claude_settings(LEGACY_HOOK, "ccstatusline"), indent=2))
    done = cli("--config", str(config), "install-hook", "--statusline", "--force", "--settings", str(path),
               env={"REMINDERD_STATE_DIR": str(state)})
    assert done.exit_code == 0, done.stderr
    written = json.loads(path.read_text())
    status_line, hook = written["statusLine"]["command"], written["hooks"]["SessionStart"][1]["hooks"][0]["command"]
    assert written == claude_settings(hook, status_line)
    assert hook == ih.command("hook", ih.this_launch(), state, config)
    assert hook.startswith("sh -c ") and f" -I -S -c \"{ih.START}\" " in hook
    assert ih.this_launch() == ih.Launch(Path(sys.executable), Path(ih.__file__).parent / "entry.py",
                                         sys.implementation.cache_tag)
    assert as_claude_code_runs(status_line, INPUT, project) == (0, b"\x1b[2mreminderd: summary not ready\x1b[0m\n", b"")
    write(state, TOMORROW)
    assert as_claude_code_runs(status_line, INPUT, project) == (0, RED_TOMORROW.encode(), b"")
    code, out, err = as_claude_code_runs(hook, SESSION_START, project)
    assert (code, err) == (0, b"") and json.loads(out)["systemMessage"].startswith(
        "reminderd (c): Claude usage credit expires in 23 hours 30 minutes: turn usage credits off.")
    assert as_claude_code_runs(hook, SESSION_START, project) == (0, b"", b"")  # once a session
    write(state, THREE_DAYS)
    assert as_claude_code_runs(status_line, b"", project, THREE_DAYS) == \
        (0, b"credit USD 21 left \xc2\xb7 expires in 3 d \xc2\xb7 usage credits on\n", b"")


def test_it_needs_no_site_packages_and_takes_any_path(tmp_path: Path, project: Path, bare_python: Path) -> None:
    state, config = tmp_path / "state's dir", tmp_path / "config.toml"
    write(state, TOMORROW)
    here = ih.this_launch()
    launch = ih.Launch(bare_python, here.entry, here.tag)  # reminderd found by its path alone
    assert as_claude_code_runs(ih.command("statusline", launch, state, config), INPUT, project) == \
        (0, RED_TOMORROW.encode(), b"")


@pytest.mark.parametrize("change", ["moved", "another python"])
def test_a_moved_reminderd_or_an_upgraded_python_is_found_the_usual_way(tmp_path: Path, project: Path,
                                                                         change: str) -> None:
    state = tmp_path / "state"
    write(state, TOMORROW)
    stale = tmp_path / "lib" / "python3.99" / "site-packages" / "reminderd"  # what the old Python's venv left
    stale.mkdir(parents=True)
    (stale / "__init__.py").write_text("")
    (stale / "entry.py").write_text("def main():\n    print('the old reminderd')\n")
    here = ih.this_launch()
    launch = here._replace(entry=tmp_path / "gone" / "reminderd" / "entry.py") if change == "moved" else \
        here._replace(entry=stale / "entry.py", tag="cpython-399")  # the venv runs another Python now
    assert as_claude_code_runs(ih.command("statusline", launch, state, tmp_path / "c.toml"), INPUT, project) == \
        (0, RED_TOMORROW.encode(), b"")


def test_nothing_and_0_once_reminderd_or_its_python_is_gone(tmp_path: Path, project: Path,
                                                          bare_python: Path) -> None:
    state, config = tmp_path / "state", tmp_path / "c.toml"
    write(state, TOMORROW)
    gone = tmp_path / "gone" / "reminderd" / "entry.py"
    for launch in (ih.Launch(bare_python, gone, ih.this_launch().tag),  # pip uninstall reminderd
                   ih.Launch(tmp_path / "removed venv" / "bin" / "python", gone, "cpython-311")):
        for kind, stdin in (("statusline", INPUT), ("hook", SESSION_START)):
            assert as_claude_code_runs(ih.command(kind, launch, state, config), stdin, project) == (0, b"", b"")
    legacy = ih.LEGACY_SCRIPT.format("hook")
    assert as_claude_code_runs(f"sh -c '{legacy}' /gone/reminderd /s /c", SESSION_START, project) == (0, b"", b"")


@pytest.mark.parametrize("kind", ["statusline", "hook"])
def test_it_imports_neither_site_nor_json_nor_re(tmp_path: Path, project: Path, kind: str) -> None:
    # what makes it fast (benchmarks/statusline): the interpreter's own start-up and little more
    state = tmp_path / "state"
    write(state, TOMORROW)
    here = ih.this_launch()
    timing = tmp_path / "bin" / "python"  # the same Python, listing what it imports on stderr
    timing.parent.mkdir()
    timing.write_text(f'#!/bin/sh\nexec "{here.python}" -X importtime "$@"\n')
    timing.chmod(0o755)
    stdin = SESSION_START if kind == "hook" else INPUT.replace(b'"version"', b'"rate_limits": {"five_hour": {'
                                                                b'"used_percentage": 100, "resets_at": 1775469600}}, '
                                                                b'"version"')
    code, out, err = as_claude_code_runs(ih.command(kind, here._replace(python=timing), state, tmp_path / "c.toml"),
                                         stdin, project)
    assert code == 0 and out
    imported = {line.rsplit("|", 1)[-1].strip() for line in err.decode().splitlines()}
    assert f"reminderd.{kind}" in imported and "reminderd.files" in imported  # it wrote what it saw
    assert not imported & {"re", "json", "pathlib", "tempfile", "contextlib", "typing", "click", "platformdirs",
                           "zoneinfo", "tomllib", "_distutils_hack"}
    assert not [name for name in imported if name.startswith("__editable__")]  # no .pth was run


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
    assert ours == ih.command("hook", ih.this_launch(), state_dir.absolute(), config.absolute())
    assert sys.executable in ours and SCRIPT not in ours
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
