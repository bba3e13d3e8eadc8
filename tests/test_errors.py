"""Every error a user can meet lives in errors.py, and its exit code is the README's."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from reminderd import errors

ROOT = Path(__file__).resolve().parent.parent
NOT_ERRORS = {0, 130, 141}  # success, and what cli.py maps from the outside (Ctrl-C, a closed pipe)


def readme_codes() -> dict[int, str]:
    section = ROOT.joinpath("README.md").read_text(encoding="utf-8").split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    return {int(code): meaning for code, meaning in re.findall(r"^\| (\d+) \| (.+) \|$", section, re.M)}


def error_classes() -> set[str]:
    return {name for name, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.ReminderdError)}


def test_each_errors_exit_code_is_in_the_readme_and_each_code_has_its_error() -> None:
    documented = readme_codes()
    used = {getattr(errors, name).exit_code for name in error_classes()}
    assert used - set(documented) == set(), "exit codes the README does not explain"
    assert set(documented) - NOT_ERRORS - used == set(), "README exit codes nothing raises"
    assert "unexpected" in documented[errors.ReminderdError.exit_code]


def test_no_module_but_errors_defines_an_error_a_user_meets() -> None:
    """cli.py's two private wrappers, which carry click's own codes, are the one exception."""
    elsewhere = [f"{path.stem}.{node.name}" for path in sorted((ROOT / "reminderd").glob("*.py"))
                 if path.stem not in ("errors", "cli")
                 for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                 if isinstance(node, ast.ClassDef)
                 and {getattr(b, "id", getattr(b, "attr", None)) for b in node.bases} & error_classes()]
    assert elsewhere == [], "move these into errors.py"
