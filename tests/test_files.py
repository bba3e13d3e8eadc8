"""Atomic writes never follow a link someone else planted (security M2), and the folders
reminderd creates are 0700 whatever the umask (L6); the usage ledger is never readable by
others, not even during its first scan (I1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from reminderd.errors import OutputError, StateError
from reminderd.files import make_private_dirs, write_atomically

NOBODY = 65534  # the tests run as root: a link is made, then given to another user


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """A directory like /tmp: everyone may write in it (sticky)."""
    directory = tmp_path / "shared"
    directory.mkdir()
    directory.chmod(0o1777)
    return directory


def plant(link: Path, target: Path, owner: int = NOBODY) -> None:
    link.symlink_to(target)
    os.lchown(link, owner, owner)


def test_a_link_someone_else_owns_is_refused_in_one_line(shared: Path, tmp_path: Path) -> None:
    bashrc = tmp_path / "bashrc"
    bashrc.write_text("my shell\n")
    plant(shared / "reminderd.ics", bashrc)
    with pytest.raises(OutputError) as error:
        write_atomically(shared / "reminderd.ics", b"BEGIN:VCALENDAR\n", error=OutputError)
    assert str(error.value) == (f"{shared / 'reminderd.ics'}: cannot write: {shared / 'reminderd.ics'} is a symbolic "
                                f"link owned by another user (uid {NOBODY}); not following it")
    assert bashrc.read_text() == "my shell\n" and (shared / "reminderd.ics").is_symlink()
    assert [p.name for p in shared.iterdir()] == ["reminderd.ics"]  # no temp file left


def test_a_link_someone_else_owns_is_refused_anywhere_in_the_path(shared: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    plant(shared / "dir", mine)
    with pytest.raises(StateError, match="is a symbolic link owned by another user"):
        write_atomically(shared / "dir" / "state.json", b"{}")
    assert list(mine.iterdir()) == []


def test_links_of_our_own_are_followed_as_before(tmp_path: Path) -> None:
    # dotfile managers link the config: the file it points at is replaced, the link stays
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    (dotfiles / "config.toml").write_text("old")
    (tmp_path / "cfg").symlink_to(dotfiles)
    (tmp_path / "config.toml").symlink_to(tmp_path / "cfg" / "config.toml")
    write_atomically(tmp_path / "config.toml", b"new")
    assert (dotfiles / "config.toml").read_text() == "new" and (tmp_path / "config.toml").is_symlink()
    plant(tmp_path / "roots", dotfiles / "config.toml", owner=0)  # root's links too
    write_atomically(tmp_path / "roots", b"newer")
    assert (dotfiles / "config.toml").read_text() == "newer"


def test_export_ics_through_a_planted_link_exits_73_and_writes_nothing(shared: Path, tmp_path: Path) -> None:
    bashrc = tmp_path / "bashrc"
    bashrc.write_text("my shell\n")
    plant(shared / "reminderd.ics", bashrc)
    result = subprocess.run([sys.executable, "-m", "reminderd", "--config", str(ROOT / "config.example.toml"),
                             "export-ics", "-o", str(shared / "reminderd.ics")], capture_output=True, text=True,
                            env={**os.environ, "REMINDERD_STATE_DIR": str(tmp_path / "state")}, cwd=ROOT, timeout=30)
    assert result.returncode == 73 and len(result.stderr.splitlines()) == 1, result.stderr
    assert "owned by another user" in result.stderr and bashrc.read_text() == "my shell\n"


def test_missing_folders_are_made_0700_one_by_one(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        make_private_dirs(tmp_path / "a" / "b" / "c")
    finally:
        os.umask(old)
    for folder in ("a", "a/b", "a/b/c"):
        assert (tmp_path / folder).stat().st_mode & 0o777 == 0o700, folder


def test_with_umask_000_every_folder_reminderd_creates_is_0700(tmp_path: Path) -> None:
    # the audit's repro: `umask 000; reminderd init; reminderd balance 10` made ~/.config,
    # ~/.local and ~/.local/state 0777, where another user could swap our folders for theirs
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_STATE_HOME": str(home / ".local" / "state")}
    for key in ("REMINDERD_CONFIG", "REMINDERD_STATE_DIR", "XDG_RUNTIME_DIR"):
        env.pop(key, None)
    for args in (["init"], ["claim", "--at", "2026-02-06T09:30"], ["balance", "10", "--at", "2026-02-20T10:00"]):
        result = subprocess.run([sys.executable, "-m", "reminderd", *args], env=env, capture_output=True, text=True,
                                cwd=ROOT, timeout=30, umask=0)
        assert result.returncode == 0, result.stderr
    made = [path for path in home.rglob("*") if path.is_dir()]
    assert {str(p.relative_to(home)) for p in made} >= {".config", ".config/reminderd", ".local", ".local/state",
                                                        ".local/state/reminderd"}
    assert {str(p.relative_to(home)): oct(p.stat().st_mode & 0o777) for p in made} == \
        {str(p.relative_to(home)): "0o700" for p in made}


def test_the_usage_ledger_is_0600_before_sqlite_writes_to_it(tmp_path: Path) -> None:
    from reminderd.ledger import _open

    path = tmp_path / "usage" / "c.sqlite"
    old = os.umask(0o022)
    try:
        with _open(path, write=True) as db:
            assert path.stat().st_mode & 0o777 == 0o600  # during the first scan, not only after it
            db.execute("INSERT INTO meta VALUES ('x', 'y')")
            journal = path.with_name(path.name + "-journal")
            assert journal.exists() and journal.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)
    assert (tmp_path / "usage").stat().st_mode & 0o777 == 0o700


def test_a_memo_is_written_atomically_without_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the hook's session memory: Claude Code waits for the hook, and a lost write only repeats a warning
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    old = os.umask(0)
    try:
        write_atomically(tmp_path / "state" / "memo.json", b"{}", durable=False)
    finally:
        os.umask(old)
    assert synced == [] and (tmp_path / "state" / "memo.json").read_bytes() == b"{}"
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["memo.json"]  # no temp file left
    assert (tmp_path / "state" / "memo.json").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700
    write_atomically(str(tmp_path / "state" / "state.json"), b"[]")  # a str path as well as a Path
    assert len(synced) == 2 and (tmp_path / "state" / "state.json").read_bytes() == b"[]"
