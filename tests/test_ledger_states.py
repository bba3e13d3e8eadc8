"""The usage ledger over generated histories of a transcript tree (Hypothesis state machine).

Claude Code appends to its transcripts, leaves a line half written, copies responses into
other files (resumed sessions, sidechains), first writes a streaming partial and later the
whole response, and deletes or rewrites files. Whatever the order of those and of the scans,
the ledger must hold, per UTC hour and model, the sum over responses of the best copy ever
scanned (the most tokens, then the main chain over a sidechain, then the rest of the row, so
that the order files are read in never matters): the rule of CLAUDE_CODE_LOGS.md, written here
as a plain model that reads every file whole each time.
"""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from reminderd import transcript_workers
from reminderd.ledger import refresh
from reminderd.prices import Tokens, ledger_key

NOW = datetime(2026, 2, 20, 12, tzinfo=UTC)
FILES = ("a.jsonl", "b.jsonl", "sub/c.jsonl")
MODELS = ("claude-opus-4-6", "claude-sonnet-4-5-20250929", "gpt-9")  # the last one unknown
HOURS = ("2026-02-09T01", "2026-02-10T23")


def usage_line(response: int, whole: bool, hour: str, sidechain: bool, request: str | None = "req_1",
               content: str = "") -> bytes:
    """An assistant line, its requestId last (as Claude Code writes it): what identifies a
    response lies in the bytes just before the end of the line. A response is first written as
    a streaming partial (1 output token), then whole."""
    record: dict[str, Any] = {
        "type": "assistant", "timestamp": f"{hour}:03:35.960Z", "isSidechain": sidechain,
        "message": {"id": f"msg_{response}", "model": MODELS[response % len(MODELS)], "role": "assistant",
                    "content": [{"type": "text", "text": content}],
                    "usage": {"input_tokens": 3, "output_tokens": 100 * response + 50 if whole else 1,
                              "cache_creation_input_tokens": 7 * response, "cache_read_input_tokens": 2 * response,
                              "speed": "standard"}}}
    if request is not None:
        record["requestId"] = request
    return json.dumps(record, separators=(",", ":")).encode()


responses = st.builds(
    usage_line, response=st.integers(0, 3), whole=st.booleans(), hour=st.sampled_from(HOURS), sidechain=st.booleans(),
    request=st.sampled_from(["req_1", "req_1", None]),
    content=st.sampled_from(["", "x" * 300, 'quoted "usage":{"output_tokens":9}']))
others = st.sampled_from([
    b'{"type":"user","message":{"role":"user","content":"the \\"usage\\": key, quoted"}}',
    b'{"type":"user","message":{"role":"user","content":"no cost here"}}',
    b'{"type":"assistant","message":{"id":"msg_9","model":"<synthetic>","usage":{"output_tokens":0}}}',
    b'{"type":"assistant","message":{"usage":{"output_tokens":',  # malformed
    b'{"type":"assistant","timestamp":"2026-02-09T01:00:00.000Z","message":{"model":"claude-opus-4-6",'
    b'"usage":{"output_tokens":11}}}',  # no id: keyed on its bytes
])
lines = st.lists(st.one_of(responses, others), min_size=1, max_size=4)


class Model:
    """The rule, the plain way: every line of every file, each scan, best copy per response."""

    def __init__(self) -> None:
        self.best: dict[str, tuple[tuple[object, ...], str, str, Tokens]] = {}

    def scan(self, files: dict[str, bytes]) -> None:
        for name in sorted(files, key=lambda n: n.split("/")):
            data = files[name]
            complete, _, last = data.rpartition(b"\n")
            found = complete.split(b"\n") if complete else []
            if last and self._parse(last) is not None:  # a whole line that only lacks its newline
                found.append(last)
            for raw in found:
                self._count(raw)

    @staticmethod
    def _parse(raw: bytes) -> Any:
        try:
            record = json.loads(raw)
        except ValueError:
            return None
        message = record.get("message") or {}
        if "usage" not in message or message.get("model") == "<synthetic>":
            return None
        return record

    def _count(self, raw: bytes) -> None:
        record = self._parse(raw)
        if record is None:
            return
        message, usage = record["message"], record["message"]["usage"]
        if message.get("id"):
            key = message["id"] + (":" + record["requestId"] if record.get("requestId") else "")
        else:
            key = "line:" + raw.decode()
        tokens = Tokens(usage.get("input_tokens", 0), usage.get("output_tokens", 0),
                        usage.get("cache_creation_input_tokens", 0), 0, usage.get("cache_read_input_tokens", 0))
        hour, model = record["timestamp"][:13], ledger_key(message["model"], 0, None)
        # the most tokens, then the main chain, then the counts, hour and model: whatever the order met
        rank = (sum(tokens[:5]), not record.get("isSidechain", False), *tokens, hour, model)
        old = self.best.get(key)
        if old is None or rank > old[0]:
            self.best[key] = (rank, hour, model, tokens)

    def hours(self) -> dict[tuple[str, str], Tokens]:
        out: dict[tuple[str, str], Tokens] = {}
        for _, hour, model, tokens in self.best.values():
            out[(hour, model)] = Tokens(*map(sum, zip(out.get((hour, model), Tokens()), tokens, strict=True)))
        return {k: v for k, v in out.items() if any(v)}


class LedgerMachine(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ledger-states-"))
        self.root, self.state = self.dir / "claude", self.dir / "state"
        (self.root / "projects" / "p" / "sub").mkdir(parents=True)
        self.model = Model()
        self.files: dict[str, bytes] = {}
        self.half: dict[str, bytes] = {}  # the rest of a line left half written

    def teardown(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def _path(self, name: str) -> Path:
        return self.root / "projects" / "p" / name

    def _write(self, name: str, data: bytes, append: bytes = b"") -> None:
        with open(self._path(name), "ab" if append else "wb") as out:
            out.write(append or data)
        self.files[name] = data + append if append else data

    @rule(name=st.sampled_from(FILES), new=lines)
    def append(self, name: str, new: list[bytes]) -> None:
        """Whole lines at the end (finishing a half-written line first, as Claude Code would)."""
        rest = self.half.pop(name, b"")
        self._write(name, self.files.get(name, b""), rest + b"".join(raw + b"\n" for raw in new))

    @rule(name=st.sampled_from(FILES), new=responses, cut=st.integers(1, 400))
    def append_half_a_line(self, name: str, new: bytes, cut: int) -> None:
        if name in self.half:
            return
        cut = min(cut, len(new))
        self.half[name] = new[cut:] + b"\n"
        self._write(name, self.files.get(name, b""), new[:cut])

    @precondition(lambda self: len(self.files) > 0)
    @rule(data=st.data())
    def copy_into_another_file(self, data: st.DataObject) -> None:
        """A resumed session: another file starts with this one's lines."""
        source = data.draw(st.sampled_from(sorted(self.files)))
        target = data.draw(st.sampled_from([n for n in FILES if n != source]))
        whole = self.files[source].rpartition(b"\n")[0]
        if whole and target not in self.half:
            self._write(target, self.files.get(target, b""), whole + b"\n")

    @precondition(lambda self: len(self.files) > 0)
    @rule(data=st.data(), replace=st.booleans())
    def rewrite_shorter(self, data: st.DataObject, replace: bool) -> None:
        """The file keeps its first lines only: in place (same inode), or replaced by a new file."""
        name = data.draw(st.sampled_from(sorted(self.files)))
        kept = self.files[name].split(b"\n")[:-1]
        keep = data.draw(st.integers(0, max(0, len(kept) - 1)))
        shorter = b"".join(raw + b"\n" for raw in kept[:keep])
        self.half.pop(name, None)
        if replace:
            self._path(name).unlink()
        self._write(name, shorter)

    @precondition(lambda self: len(self.files) > 0)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        """Claude Code's cleanup: the counts must stay."""
        name = data.draw(st.sampled_from(sorted(self.files)))
        self._path(name).unlink()
        del self.files[name]
        self.half.pop(name, None)

    @rule()
    def scan(self) -> None:
        self.model.scan(self.files)
        ledger = refresh(self.state, "c", [self.root], NOW)
        got = {(hour, model): tokens for hour, models in ledger.hours.items() for model, tokens in models.items()}
        assert got == self.model.hours()

    @rule(started=st.integers(0, 3))
    def scan_in_slices(self, started: int) -> None:
        """The daemon's deadline: a refresh starts a few transcripts only, the next one reads the
        rest; together they count what one whole refresh counts."""
        clock = itertools.count()
        with mock.patch.object(transcript_workers.time, "monotonic", lambda: float(next(clock))):
            refresh(self.state, "c", [self.root], NOW, deadline=started - 0.5)
        self.scan()

    @invariant()
    def the_tree_is_what_the_machine_wrote(self) -> None:
        if not hasattr(self, "files"):
            return
        on_disk = {str(p.relative_to(self._path(""))): p.read_bytes() for p in self._path("").rglob("*.jsonl")}
        assert on_disk == self.files


LedgerMachine.TestCase.settings = settings(max_examples=max(10, settings.default.max_examples // 3),
                                           stateful_step_count=25, deadline=None)
test_ledger_state_machine = LedgerMachine.TestCase


def test_the_model_counts_a_response_once_keeping_its_best_copy() -> None:
    """The model itself, worked by hand: a partial (1 token) then the whole response (500)."""
    model = Model()
    partial = usage_line(1, whole=False, hour=HOURS[0], sidechain=False)
    whole = usage_line(1, whole=True, hour=HOURS[1], sidechain=True)
    model.scan({"a.jsonl": partial + b"\n", "b.jsonl": whole + b"\n" + partial + b"\n"})
    assert model.hours() == {(HOURS[1], "claude-sonnet-4-5"): Tokens(3, 150, 7, 0, 2)}
