"""Claude Code's local transcripts: where they are, what each usage line holds, what it costs.

The rules (../shared/CLAUDE_CODE_LOGS.md, each one a bug another tool shipped):
- roots: $CLAUDE_CONFIG_DIR (comma-separated) alone if set, else ${XDG_CONFIG_HOME:-~/.config}/claude
  and ~/.claude; every *.jsonl below <root>/projects; a file reached twice is read once;
- a line counts when it has message.usage; "<synthetic>" is not a model call; a line that is
  truncated, malformed or not UTF-8 is counted as skipped, never fatal;
- one response can appear in several files (resumed sessions, sidechains, worktrees) and
  first as a streaming partial: key on (message.id, requestId) and keep the copy with the
  largest token total, preferring isSidechain false; a line with no id is keyed on its bytes;
- cost = input x in + output x out + 5-minute cache writes x 1.25 in + 1-hour cache writes x 2 in
  + cache reads x 0.1 in, per million tokens; fast mode is the offer's "-fast" row, else 6x,
  cache rates included; web searches are priced per request;
- an unknown model is priced as the dearest known family and named in a warning; ids are
  normalised ("claude-opus-4-6-20260205", "anthropic/claude-4.6-opus" -> "opus-4.6").

Most of a transcript's bytes are long `content` that carries no cost, so the scan never looks
at it in Python: stringzilla finds the usage key with SIMD (about 4x bytes.find), and msgspec
decodes each line that holds it into a small typed structure, skipping the content in C (the
standard library's json.loads builds every string of it; benchmarks/usage_logs).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from reminderd.offers import Price

CACHE_WRITE_5M = 1.25
CACHE_WRITE_1H = 2.0
CACHE_READ = 0.1
FAST_MULTIPLIER = 6.0  # Opus 4.6 fast mode against standard, when the table has no "-fast" row
FAST_SUFFIX = "@fast"  # a model id as counted in fast mode
SYNTHETIC = "<synthetic>"
# A line without the usage key carries no cost and is not even decoded. The mark ends on ':',
# so it matches compact JSON (Claude Code's) and JSON written with spaces alike.
USAGE_MARK = b'"usage":'


class Tokens(NamedTuple):
    input: int = 0
    output: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0
    web_searches: int = 0

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_write_5m + self.cache_write_1h + self.cache_read

    def plus(self, other: Tokens, sign: int = 1) -> Tokens:
        return Tokens(*(a + sign * b for a, b in zip(self, other, strict=True)))


HOUR_FORMAT = "%Y-%m-%dT%H"


# One model response as a usage line reports it, flat (the ledger's `seen` row): key (what
# identifies the response across files), the UTC hour it was written in (HOUR_FORMAT), the
# normalised model (FAST_SUFFIX added in fast mode), the six Tokens counts, and 1 if it comes
# from a sidechain. Of two copies of a response, outranks() says which one counts.
Row = tuple[str, str, str, int, int, int, int, int, int, int]


def outranks(row: Row, counted: Row) -> bool:
    """Whether a copy of a response replaces the one counted: more tokens (a streaming partial
    comes first), or as many and not from a sidechain; else the first one met stays."""
    return (row[3] + row[4] + row[5] + row[6] + row[7], not row[9]) > (
        counted[3] + counted[4] + counted[5] + counted[6] + counted[7], not counted[9])


class Skip(NamedTuple):
    reason: str  # "malformed", "synthetic"


# -- where -------------------------------------------------------------------------------------


def default_roots(environ: Mapping[str, str], home: Path) -> list[Path]:
    configured = environ.get("CLAUDE_CONFIG_DIR")
    if configured:
        return [Path(part).expanduser() for part in configured.split(",") if part.strip()]
    xdg = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    return [xdg / "claude", home / ".claude"]


def transcript_files(roots: list[Path]) -> Iterator[tuple[str, os.stat_result]]:
    """Every *.jsonl below <root>/projects with its stat, each real file once (by device and
    inode: a file reached through a link or two roots counts once), in a stable order. Paths
    are strings: an unchanged re-scan of a large tree costs little more than its stat calls."""
    seen: set[tuple[int, int]] = set()

    def walk(directory: str) -> Iterator[tuple[str, os.stat_result]]:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    yield from walk(entry.path)
                elif entry.name.endswith(".jsonl"):
                    st = entry.stat()
                    if (st.st_dev, st.st_ino) not in seen:
                        seen.add((st.st_dev, st.st_ino))
                        yield entry.path, st
            except OSError:
                continue  # vanished or unreadable now

    for root in roots:
        yield from walk(str(root / "projects"))


# -- one line ----------------------------------------------------------------------------------


_MODEL = r"(opus|sonnet|haiku)"  # re caches compiled patterns: compiled on first use, not at import
_VERSION = r"(?<![0-9])(\d)[-.](\d{1,2})(?![0-9])"


@functools.lru_cache(maxsize=256)
def normalise_model(raw: str) -> str:
    """'claude-opus-4-6-20260205', 'anthropic/claude-4.6-opus' -> 'opus-4.6'; other ids stay as
    they are, lower-cased (an unknown model, priced high with a warning)."""
    text = raw.strip().lower().rsplit("/", 1)[-1]
    family = re.search(_MODEL, text)
    version = re.search(_VERSION, re.sub(r"-\d{8}$", "", text))
    if family and version:
        return f"{family.group(1)}-{version.group(1)}.{version.group(2)}"
    return text


def _decoder() -> Any:
    """A msgspec decoder for the fields we need; every other field (the long `content`) is
    skipped without being built. defstruct, not class syntax: the types must be objects here.
    gc=False: they hold no cycles, and a scan makes hundreds of thousands of them."""
    from typing import Annotated

    import msgspec

    def struct(name: str, fields: list[tuple[str, Any, Any]]) -> Any:
        return msgspec.defstruct(name, fields, gc=False)

    count = Annotated[int, msgspec.Meta(ge=0)]  # a negative count is a malformed line, checked in C
    cache_creation = struct("CacheCreation", [("ephemeral_5m_input_tokens", count, 0),
                                              ("ephemeral_1h_input_tokens", count, 0)])
    server_tool_use = struct("ServerToolUse", [("web_search_requests", count, 0)])
    usage = struct("Usage", [("input_tokens", count, 0), ("output_tokens", count, 0),
                             ("cache_creation_input_tokens", count, 0), ("cache_read_input_tokens", count, 0),
                             ("cache_creation", cache_creation | None, None),
                             ("server_tool_use", server_tool_use | None, None), ("speed", str | None, None)])
    message = struct("Message", [("id", str | None, None), ("model", str | None, None),
                                 ("usage", usage | None, None)])
    line = struct("Line", [("timestamp", str | None, None), ("requestId", str | None, None),
                           ("isSidechain", bool, False), ("message", message | None, None)])
    return msgspec.json.Decoder(line).decode, (msgspec.DecodeError, msgspec.ValidationError)


class LineReader:
    """Turns one transcript line into a Row, a Skip, or None (a line that carries no cost)."""

    def __init__(self) -> None:
        self.decode, self.decode_error = _decoder()

    def parse(self, raw: bytes | memoryview) -> Row | Skip | None:
        """One line (that holds the usage key): the scan's hot path, once per usage line."""
        try:
            line = self.decode(raw)
        except self.decode_error:
            return MALFORMED
        message = line.message
        if message is None or message.usage is None:
            return None
        model = message.model
        if model == SYNTHETIC:
            return SYNTHETIC_SKIP
        stamp = line.timestamp
        # Claude Code writes "2026-02-09T01:03:35.960Z": its hour is its first 13 characters
        hour = stamp[:13] if stamp and len(stamp) in (20, 24) and stamp[10] == "T" and stamp[-1] == "Z" \
            else _utc_hour(stamp)
        if hour is None or not model:
            return MALFORMED
        usage = message.usage
        split = usage.cache_creation
        if split is not None and (split.ephemeral_5m_input_tokens or split.ephemeral_1h_input_tokens):
            write_5m, write_1h = split.ephemeral_5m_input_tokens, split.ephemeral_1h_input_tokens
        else:  # older lines: every cache write counts as a 5-minute write
            write_5m, write_1h = usage.cache_creation_input_tokens, 0
        tool = usage.server_tool_use
        model = normalise_model(model)
        if usage.speed == "fast":
            model += FAST_SUFFIX
        if message.id:
            key = message.id + ":" + line.requestId if line.requestId else message.id
        else:  # no id: the line's own bytes identify it (hashlib only here: its start-up is slow)
            import hashlib

            key = "line:" + hashlib.sha1(bytes(raw).strip(), usedforsecurity=False).hexdigest()
        return (key, hour, model, usage.input_tokens, usage.output_tokens, write_5m, write_1h,
                usage.cache_read_input_tokens, tool.web_search_requests if tool is not None else 0,
                1 if line.isSidechain else 0)


def find_usage_lines(data: bytes, end: int, parse: Any, rows: list[Row], skipped: dict[str, int]) -> None:
    """Parse the newline-terminated lines of data[:end] that hold the usage key into `rows`,
    counting the skipped ones by reason.

    Only the lines that hold the key are looked at, each decoded from a memoryview without a
    copy: the many long lines without it cost no Python work.
    """
    from stringzilla import find

    view, find_line_end, find_line_start = memoryview(data), data.find, data.rfind
    position = 0
    while (hit := find(data, USAGE_MARK, position, end)) >= 0:
        line_start = find_line_start(b"\n", position, hit) + 1 or position
        stop = find_line_end(b"\n", hit, end)
        if stop < 0:
            return
        position = stop + 1
        if data[stop - 1] == 13:  # CRLF
            stop -= 1
        row = parse(view[line_start:stop])
        if type(row) is tuple:  # the common case first; a Skip is a NamedTuple, not a tuple exactly
            rows.append(row)
        elif row is not None:
            skipped[row.reason] = skipped.get(row.reason, 0) + 1


MALFORMED, SYNTHETIC_SKIP = Skip("malformed"), Skip("synthetic")
_UTC_STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"


def _utc_hour(text: str | None) -> str | None:
    """The UTC hour of a timestamp; Claude Code writes UTC with a Z, read without a datetime."""
    if not text:
        return None
    if re.fullmatch(_UTC_STAMP, text):
        return text[:13]
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    return at.astimezone(UTC).strftime(HOUR_FORMAT) if at.tzinfo else None


# -- what it costs -------------------------------------------------------------------------------


class Priced(NamedTuple):
    usd: float
    known: bool  # False: an unknown model, priced as the dearest known family
    priced_as: str


def dearest(prices: Mapping[str, Price]) -> str | None:
    """The dearest standard (not fast-mode) row: what an unknown model is priced as."""
    standard = {k: p for k, p in prices.items() if not k.endswith("-fast")} or dict(prices)
    return max(standard, key=lambda k: (standard[k].output, standard[k].input)) if standard else None


def price_tokens(model: str, tokens: Tokens, prices: Mapping[str, Price], web_search_usd: float) -> Priced:
    """USD for `tokens` of `model` (a normalised id, maybe with FAST_SUFFIX) at `prices`."""
    base, fast = model.removesuffix(FAST_SUFFIX), model.endswith(FAST_SUFFIX)
    multiplier = 1.0
    if fast and f"{base}-fast" in prices:
        row, known, priced_as = prices[f"{base}-fast"], True, f"{base}-fast"
    elif base in prices:
        row, known, priced_as = prices[base], True, base
        multiplier = FAST_MULTIPLIER if fast else 1.0
    else:
        priced_as = dearest(prices) or ""
        row, known = prices.get(priced_as, Price(0.0, 0.0)), False
        multiplier = FAST_MULTIPLIER if fast else 1.0
    per_input = row.input * multiplier / 1e6
    usd = (tokens.input * per_input + tokens.output * row.output * multiplier / 1e6
           + tokens.cache_write_5m * per_input * CACHE_WRITE_5M + tokens.cache_write_1h * per_input * CACHE_WRITE_1H
           + tokens.cache_read * per_input * CACHE_READ + tokens.web_searches * web_search_usd)
    return Priced(usd, known, priced_as)
