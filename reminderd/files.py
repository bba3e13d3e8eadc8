"""Writing files so that a reader sees the old content or the new, never a mix.

The status line and the session hook write through here too (quota.json, hook_sessions.json), and
Claude Code waits for them: this module needs only os and stat (pathlib and tempfile would cost
them more than their own work).
"""

from __future__ import annotations

import errno
import os
import stat

from reminderd.errors import ReminderdError, StateError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

PRIVATE = 0o600  # the state, calendars (they hold usage and spend) and configs we create
MAX_LINKS = 40  # as the kernel's ELOOP limit


class UntrustedLink(OSError):
    """A symbolic link someone else owns: following it would let them choose what we overwrite."""


def write_atomically(path: Path | str, data: bytes, mode: int = PRIVATE,
                     error: type[ReminderdError] = StateError, durable: bool = True) -> None:
    """Temp file beside the target, fsync, rename over it, fsync the directory (without `durable`, no
    fsync: a reader still sees the old content or the new, but a crash may lose the new).

    A symlink of yours (or root's) is followed: the file it points at is replaced and the link
    stays (dotfile managers link configs). A link someone else owns is refused, as the kernel's
    protected_symlinks would refuse it (a link planted in a shared directory). On failure
    nothing is left behind and `error` is raised with a one-line reason naming the file.
    """
    try:
        target = _resolve(path)
        directory = os.path.dirname(target)
        make_private_dirs(directory)
        fd, tmp = _temp_file(directory, os.path.basename(target))
    except OSError as exc:
        raise error(f"{path}: cannot write: {exc.strerror}") from None
    try:
        with open(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, target)
        if durable:
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    except OSError as exc:
        try:  # noqa: SIM105 (contextlib imports functools and collections: not on the status line's path)
            os.unlink(tmp)
        except OSError:
            pass
        raise error(f"{path}: cannot write: {exc.strerror}") from None


def _temp_file(directory: str, name: str) -> tuple[int, str]:
    """A new file `.NAME.RANDOM.tmp` in `directory`, open for writing, 0600, as tempfile.mkstemp makes it."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = os.path.join(directory, f".{name}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(tmp, flags, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no temporary name is free")


def _resolve(path: Path | str) -> str:
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
    return current


def make_private_dirs(directory: Path | str) -> None:
    """Create `directory` and its missing parents, each 0700 whatever the umask (Path.mkdir
    gives the mode to the last one only): in a parent others can write, they could move ours
    away and put theirs in its place."""
    missing = []
    parent = os.path.abspath(directory)
    while not os.path.isdir(parent):
        missing.append(parent)
        up = os.path.dirname(parent)
        if up == parent:
            break
        parent = up
    for parent in reversed(missing):
        try:
            os.mkdir(parent, 0o700)
        except FileExistsError:
            continue
        os.chmod(parent, 0o700)  # mkdir's mode went through the umask
