"""The modules form layers (ARCHITECTURE.md, "The layers"): each imports only modules of its
own layer or below, never in a loop, and sources and channels stand side by side, neither
importing the other. Every import counts, lazy ones and those for type checking included."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "reminderd"

# Layer numbers as ARCHITECTURE.md names them; a new module must be given its place here.
VALUES, CORE, RECORDS, EDGES, DAEMON, CLI = 1, 2, 3, 4, 5, 6
SOURCES = {"usage_logs", "transcripts", "transcript_workers", "ledger", "account", "account_http", "account_shapes",
           "account_store", "sources", "quota_record"}
CHANNELS = {"notify", "notifier", "dbus_notify", "actions", "push", "ics", "caldav_sync", "caldav_channel", "channels"}
LAYERS = {
    **dict.fromkeys(["__init__", "errors", "timeutil", "prices", "offers", "settings", "quota", "logged", "spend",
                     "facts", "forecast", "rules", "quiet", "urls", "record", "lightjson"], VALUES),
    **dict.fromkeys(["reminder", "wording", "timeline", "catchup", "snooze", "summary", "matching", "kinds"], CORE),
    **dict.fromkeys(["config", "config_values", "config_offers", "config_edges", "config_edit", "state", "files",
                     "paths", "instance", "bounded", "secret_command",
                     "seams", "extras", "summary_file"], RECORDS),
    **dict.fromkeys([*SOURCES, *CHANNELS, "service"], EDGES),
    **dict.fromkeys(["daemon", "process", "turns", "sourcing"], DAEMON),
    **dict.fromkeys(["cli", "__main__", "report", "usage_report", "catalog", "statusline", "hook", "install_hook",
                     "entry", "manpage", "light"], CLI),
}


def module_names() -> list[str]:
    return sorted(path.stem for path in PACKAGE.glob("*.py"))


def layer(name: str) -> int:
    if name.startswith("cli_"):
        return CLI
    return LAYERS[name]


def imports(name: str) -> set[str]:
    """The reminderd modules `name` imports, anywhere in it."""
    tree = ast.parse((PACKAGE / f"{name}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "reminderd":
            parts = node.module.split(".")
            found.update([parts[1]] if len(parts) > 1 else [a.name for a in node.names])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("reminderd."))
    return (found & set(module_names())) - {name}


def test_every_module_has_a_layer() -> None:
    missing = [name for name in module_names() if not name.startswith("cli_") and name not in LAYERS]
    assert missing == [], f"give these modules a layer in tests/test_layers.py: {missing}"


def test_no_module_imports_a_higher_layer() -> None:
    upward = [f"{name} ({layer(name)}) -> {dep} ({layer(dep)})" for name in module_names()
              for dep in sorted(imports(name)) if layer(dep) > layer(name)]
    assert upward == []


def test_sources_and_channels_stand_side_by_side() -> None:
    crossing = [f"{name} -> {dep}" for name in module_names() for dep in sorted(imports(name))
                if {name, dep} & SOURCES and {name, dep} & CHANNELS]
    assert crossing == []


def test_no_import_loop() -> None:
    graph = {name: imports(name) for name in module_names()}
    seen: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(name: str, path: list[str]) -> None:
        seen[name] = 1
        for dep in sorted(graph[name]):
            assert seen.get(dep) != 1, "import loop: " + " -> ".join([*path, name, dep])
            if dep not in seen:
                visit(dep, [*path, name])
        seen[name] = 2

    for name in graph:
        if name not in seen:
            visit(name, [])


def test_no_module_is_over_about_400_lines() -> None:
    long = {name: n for name in module_names()
            if (n := len((PACKAGE / f"{name}.py").read_text(encoding="utf-8").splitlines())) > 420}
    assert long == {}


def test_architecture_md_names_each_module_in_its_layer() -> None:
    """The table in ARCHITECTURE.md is the one in this file, so the docs cannot drift."""
    import re

    text = (PACKAGE.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    named: dict[str, int] = {}
    for number, modules in re.findall(r"^\| (\d)[abc]? \| [^|]+ \| [^|]+ \| (.+) \|$", text, re.M):
        for name in re.findall(r"`([a-z_*]+)`", modules):
            named[name] = int(number)
    for name in module_names():
        key = "cli_*" if name.startswith("cli_") else name
        assert named.get(key) == layer(name), f"ARCHITECTURE.md: {name} is in layer {layer(name)}, not {named.get(key)}"
