"""`reminderd install-hook`: reminderd's SessionStart hook (and, asked, its status line) in Claude Code's
settings.json, merged into what is there; `--uninstall` takes out only what it added.

Every other key and hook stays the same JSON value, in its order: numbers keep their exact text, and
the file is written back as Claude Code writes it (two-space JSON). A file that is not JSON (comments
included) is refused and left alone. What install created (the `hooks` object, its `SessionStart`
list) and a status line it replaced (--force) are remembered in the state file, so that uninstall
gives back the file as it was.

The commands start this reminderd's Python directly, `python -I -S -c START`, rather than the
`reminderd` console script: Claude Code waits for them after every answer, and the script pip
generates imports `re` and the interpreter's `site` (its .pth files) first, which together cost more
than the command's own work (benchmarks/statusline). START puts the directory holding the reminderd
package (found when installing) on sys.path, unless it is gone or the interpreter is no longer the
one that installed it (another cache tag: a venv upgraded to a new Python): then `site` finds it;
whatever fails before reminderd takes over (reminderd uninstalled) ends quietly with 0, as the
light commands do. `-I` also keeps the project's directory, where Claude Code runs them, and
PYTHON* variables out of sys.path.

Each runs in `sh -c` with a test of the interpreter's path first (a removed venv makes them print
nothing instead of failing), its values as arguments, so any path quotes safely and any shell runs
it. They carry the state directory and config in use, so they read the same summary as the
`reminderd` that installed them. The form older versions wrote (the console script's path) is
still recognised, updated and removed.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from reminderd.errors import SettingsError, one_line

BACKUP_SUFFIX = ".reminderd-backup"
STATE_SECTION = "claude_code_settings"  # state extra: settings path -> what install created or replaced
EVENT = "SessionStart"
# The interpreter's exceptions hook ends anything raised before reminderd.entry takes over (whose
# light commands always end with 0 themselves). No quote, $, ` or \ in it: it sits in "..." in SCRIPT.
START = ("import os,sys,site;sys.excepthook=lambda*a:os._exit(0);a=sys.argv;f=a.pop(1);"
         "sys.path.append(os.path.dirname(os.path.dirname(f)))if a.pop(1)==sys.implementation.cache_tag and "
         "os.path.isfile(f)else site.main();from reminderd.entry import main;main()")
SCRIPT = ('if [ -x "$0" ]; then REMINDERD_STATE_DIR="$1" exec "$0" -I -S -c "' + START + '" "$3" "$4" '
          '--config "$2" {}; fi')  # sh -c SCRIPT python state_dir config entry.py cache_tag
# What earlier versions (0.1.0) wrote: sh -c LEGACY_SCRIPT reminderd state_dir config (the console script).
LEGACY_SCRIPT = 'if [ -x "$0" ]; then REMINDERD_STATE_DIR="$1" exec "$0" --config "$2" {}; fi'
ARGUMENTS = {"hook": "hook", "statusline": "statusline --color"}
HOOK_TIMEOUT = 10  # seconds Claude Code gives the hook (it needs milliseconds)
REFRESH = 60  # seconds: the status line's time left stays right while the session is idle


def settings_path(environ: Mapping[str, str]) -> Path:
    """$CLAUDE_CONFIG_DIR/settings.json, else ~/.claude/settings.json."""
    base = environ.get("CLAUDE_CONFIG_DIR")
    return (Path(base).expanduser() if base else Path(os.path.expanduser("~")) / ".claude") / "settings.json"


class Launch(NamedTuple):
    """How Claude Code starts this reminderd: its interpreter, its reminderd/entry.py, and the
    interpreter's cache tag (`cpython-311`)."""

    python: Path
    entry: Path
    tag: str


def this_launch() -> Launch:
    """The interpreter running now (a venv's or pipx's own, not the one it links to) and where it found
    reminderd (site-packages, or the source tree of an editable install)."""
    import reminderd

    if not sys.executable or not os.access(sys.executable, os.X_OK):
        raise SettingsError("cannot tell which Python runs reminderd (sys.executable is not set); nothing written")
    return Launch(Path(sys.executable).absolute(), Path(reminderd.__file__).absolute().parent / "entry.py",
                  sys.implementation.cache_tag or "")


def command(kind: str, launch: Launch, state_dir: Path, config: Path) -> str:
    """The shell command Claude Code runs: `kind` of this reminderd, or nothing once it is removed."""
    return " ".join(["sh", "-c", shlex.quote(SCRIPT.format(ARGUMENTS[kind])),
                     *(shlex.quote(str(p)) for p in (launch.python, state_dir, config, launch.entry, launch.tag))])


def is_ours(value: object, kind: str) -> bool:
    """Whether a command is one install-hook wrote (of any reminderd, state directory or config), in
    this form or the one older versions wrote."""
    if not isinstance(value, str):
        return False
    try:
        words = shlex.split(value)
    except ValueError:
        return False
    return (len(words) == 8 and words[:3] == ["sh", "-c", SCRIPT.format(ARGUMENTS[kind])]) or \
        (len(words) == 6 and words[:3] == ["sh", "-c", LEGACY_SCRIPT.format(ARGUMENTS[kind])])


# -- JSON that keeps its numbers ------------------------------------------------------------------


class Number(str):
    """A JSON number as written: 1.0, 1e400 and 12345678901234567890 come back as they were."""


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse(text: str, path: Path) -> dict[str, Any]:
    """The settings object; SettingsError with one line for anything else (nothing is written then)."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text, parse_float=Number, parse_int=Number, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        hint = "; comments are not JSON" if "//" in text or "/*" in text else ""
        raise SettingsError(f"{path}: not valid JSON ({error.msg} at line {error.lineno} column {error.colno}"
                            f"{hint}); nothing written") from None
    except (ValueError, RecursionError) as error:
        raise SettingsError(f"{path}: not valid JSON ({one_line(str(error)) or 'nested too deep'}); "
                            "nothing written") from None
    if not isinstance(value, dict):
        raise SettingsError(f"{path}: expected a JSON object, got {_kind(value)}; nothing written")
    return value


def _kind(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", Number: "a number", bool: "true or false",
            type(None): "null"}.get(type(value), type(value).__name__)


def dump(value: Any, level: int = 0) -> str:
    """JSON as Claude Code writes its settings (JSON.stringify with two spaces), numbers as they were."""
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(value, Number):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{_string(str(k))}: {dump(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if not value:
        return "[]"
    return "[\n" + ",\n".join(f"{inner}{dump(v, level + 1)}" for v in value) + f"\n{pad}]"


def _string(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (from a "\\ud800" escape) stays escaped
        return json.dumps(text)
    return json.dumps(text, ensure_ascii=False)


# -- the change -----------------------------------------------------------------------------------


class Change(NamedTuple):
    settings: dict[str, Any]
    notes: tuple[str, ...]
    record: dict[str, Any]  # what to remember in the state (empty: forget)


def install(settings: dict[str, Any], hook: str, status_line: str | None, force: bool, record: Mapping[str, Any],
            path: Path) -> Change:
    """`settings` with our hook (and status line): updated in place when there, added when not."""
    new = copy.deepcopy(settings)
    created = list(record.get("created", []))
    replaced = record.get("replaced_status_line")
    notes: list[str] = []
    hooks = new.get("hooks")
    if hooks is None:
        hooks = new["hooks"] = {}
        created.append("hooks")
    elif not isinstance(hooks, dict):
        raise SettingsError(f"{path}: hooks: expected an object, got {_kind(hooks)}; nothing written")
    groups = hooks.get(EVENT)
    if groups is None:
        groups = hooks[EVENT] = []
        created.append(f"hooks.{EVENT}")
    elif not isinstance(groups, list):
        raise SettingsError(f"{path}: hooks.{EVENT}: expected an array, got {_kind(groups)}; nothing written")
    entries = [entry for group in groups if isinstance(group, dict) and isinstance(group.get("hooks"), list)
               for entry in group["hooks"] if isinstance(entry, dict) and is_ours(entry.get("command"), "hook")]
    if not entries:
        groups.append({"hooks": [{"type": "command", "command": hook, "timeout": HOOK_TIMEOUT}]})
        notes.append("added reminderd's SessionStart hook")
    elif any(entry.get("command") != hook for entry in entries):
        for entry in entries:
            entry["command"] = hook
        notes.append("updated reminderd's SessionStart hook (another Python, state directory or config, or an "
                     "older form)")
    if status_line is not None:
        current = new.get("statusLine")
        ours = {"type": "command", "command": status_line, "padding": 0, "refreshInterval": REFRESH}
        if "statusLine" not in new:
            new["statusLine"] = ours
            notes.append("added reminderd's status line")
        elif isinstance(current, dict) and is_ours(current.get("command"), "statusline"):
            if current.get("command") != status_line:
                current["command"] = status_line
                notes.append("updated reminderd's status line")
        elif current is None:  # "statusLine": null is no status line, but it is given back as it was
            replaced = dump({"statusLine": current})
            new["statusLine"] = ours
            notes.append("added reminderd's status line")
        elif not force:
            shown = current.get("command") if isinstance(current, dict) else current
            raise SettingsError(
                f"{path}: statusLine: you have a status line already ({one_line(str(shown))[:80]}); --force replaces "
                "it (it is kept, and --uninstall gives it back), or add `reminderd statusline` to it as a segment "
                "(README, \"Claude Code\"); nothing written")
        else:
            replaced = dump({"statusLine": current})
            new["statusLine"] = ours
            notes.append("replaced your status line with reminderd's (yours is in the backup, and --uninstall "
                         "gives it back)")
    kept = {"created": list(dict.fromkeys(created))} | \
        ({"replaced_status_line": replaced} if replaced is not None else {})
    return Change(new, tuple(notes), kept)


def uninstall(settings: dict[str, Any], record: Mapping[str, Any]) -> Change:
    """`settings` without what install added; containers it created go once empty; a status line it
    replaced comes back."""
    new = copy.deepcopy(settings)
    created = set(record.get("created", []))
    notes: list[str] = []
    hooks = new.get("hooks")
    if isinstance(hooks, dict):
        groups = hooks.get(EVENT)
        if isinstance(groups, list):
            for group in list(groups):
                if not isinstance(group, dict) or not isinstance(group.get("hooks"), list):
                    continue
                kept = [e for e in group["hooks"] if not (isinstance(e, dict) and is_ours(e.get("command"), "hook"))]
                if len(kept) == len(group["hooks"]):
                    continue
                notes.append("removed reminderd's SessionStart hook")
                if kept or set(group) != {"hooks"}:
                    group["hooks"] = kept
                else:
                    groups.remove(group)  # the group install added
            if not groups and f"hooks.{EVENT}" in created:
                del hooks[EVENT]
        if not hooks and "hooks" in created:
            del new["hooks"]
    current = new.get("statusLine")
    if isinstance(current, dict) and is_ours(current.get("command"), "statusline"):
        replaced = record.get("replaced_status_line")
        if isinstance(replaced, str):
            new["statusLine"] = parse(replaced, Path("(the status line kept in the state)")).get("statusLine")
            notes.append("gave back the status line --force had replaced")
        else:
            del new["statusLine"]
            notes.append("removed reminderd's status line")
    return Change(new, tuple(dict.fromkeys(notes)), {})


# -- the file -------------------------------------------------------------------------------------


def read_settings(path: Path) -> tuple[str | None, dict[str, Any]]:
    """The file's text (None: there is none) and its object."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, {}
    except OSError as error:
        raise SettingsError(f"{path}: cannot read: {error.strerror}; nothing written") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SettingsError(f"{path}: not UTF-8 text; nothing written") from None
    return text, parse(text, path)


def write_settings(path: Path, old_text: str | None, settings: dict[str, Any]) -> Path | None:
    """Write `settings` atomically, keeping the file's mode; the previous file goes to the one backup
    beside it (returned; None when there was no file)."""
    from reminderd.files import PRIVATE, write_atomically

    backup = None
    mode = PRIVATE
    if old_text is not None:
        with contextlib.suppress(OSError):
            mode = os.stat(path).st_mode & 0o777
        backup = path.with_name(path.name + BACKUP_SUFFIX)
        write_atomically(backup, old_text.encode("utf-8"), mode=mode, error=SettingsError)
    write_atomically(path, (dump(settings) + "\n").encode("utf-8"), mode=mode, error=SettingsError)
    return backup


def diff(path: Path, old_text: str | None, settings: dict[str, Any]) -> str:
    import difflib

    new_text = dump(settings) + "\n"
    lines = difflib.unified_diff((old_text or "").splitlines(keepends=True), new_text.splitlines(keepends=True),
                                 fromfile=str(path) if old_text is not None else "/dev/null", tofile=str(path))
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
