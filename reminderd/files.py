"""Writing files so that a reader sees the old content or the new, never a mix."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from reminderd.errors import ReminderdError, StateError

PRIVATE = 0o600  # the state, calendars (they hold usage and spend) and configs we create
MAX_LINKS = 40  # as the kernel's ELOOP limit


class UntrustedLink(OSError):
    """A symbolic link someone else owns: following it would let them choose what we overwrite."""


def write_atomically(path: Path, data: bytes, mode: int = PRIVATE,
                     error: type[ReminderdError] = StateError) -> None:
    """Temp file beside the target, fsync, rename over it, fsync the directory.

    A symlink of yours (or root's) is followed: the file it points at is replaced and the link
    stays (dotfile managers link configs). A link someone else owns is refused, as the kernel's
    protected_symlinks would refuse it (a link planted in a shared directory). On failure
    nothing is left behind and `error` is raised with a one-line reason naming the file.
    """
    import tempfile

    try:
        target = resolve_trusted(path)
        make_private_dirs(target.parent)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise error(f"{path}: cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise error(f"{path}: cannot write: {exc.strerror}") from None


def resolve_trusted(path: Path) -> Path:
    """`path` with every symbolic link resolved, as os.path.realpath does, but raising
    UntrustedLink for a link owned by anyone but us or root. (realpath reads links with
    readlink, which the kernel's protection against planted links does not cover.)"""
    trusted = (os.getuid(), 0)
    pending = list(reversed(os.path.join(os.getcwd(), os.fspath(path)).split("/")))
    current, links = "/", 0
    while pending:
        name = pending.pop()
        if name in ("", "."):
            continue
        if name == "..":
            current = os.path.dirname(current)
            continue
        candidate = os.path.join(current, name)
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            current = candidate  # what does not exist yet is created as named
            continue
        if not stat.S_ISLNK(st.st_mode):
            current = candidate
            continue
        if st.st_uid not in trusted:
            raise UntrustedLink(0, f"{candidate} is a symbolic link owned by another user (uid {st.st_uid}); "
                                   "not following it")
        links += 1
        if links > MAX_LINKS:
            raise OSError(0, "too many levels of symbolic links")
        target = os.readlink(candidate)
        if target.startswith("/"):
            current = "/"
        pending.extend(reversed(target.split("/")))
    return Path(current)


def make_private_dirs(directory: Path) -> None:
    """Create `directory` and its missing parents, each 0700 whatever the umask (Path.mkdir
    gives the mode to the last one only): in a parent others can write, they could move ours
    away and put theirs in its place."""
    missing = []
    for parent in (directory, *directory.parents):
        if parent.is_dir():
            break
        missing.append(parent)
    for parent in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(parent, 0o700)
            os.chmod(parent, 0o700)  # mkdir's mode went through the umask
