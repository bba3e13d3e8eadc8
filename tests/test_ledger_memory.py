"""What the ledger remembers: the horizon of `seen` (review C2), a ledger of schema 1 brought up
to date, refreshes cut short by a deadline, and counts that cannot overflow."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import reminderd.ledger as ledger_module
import reminderd.transcript_workers as workers
import reminderd.transcripts as transcripts
from reminderd.ledger import ledger_path, load, refresh
from reminderd.offers import CLAUDE_EXTRA_USAGE_2026_02 as OFFER
from reminderd.spend import daily_usd

LA = ZoneInfo("America/Los_Angeles")


def line(stamp: str, msg: str, req: str, output: int, sidechain: bool = False) -> str:
    return json.dumps({"type": "assistant", "timestamp": stamp, "requestId": req, "isSidechain": sidechain,
                       "message": {"id": msg, "model": "claude-opus-4-6", "usage": {"output_tokens": output}}},
                      separators=(",", ":")) + "\n"


RESPONSE = line("2026-02-07T20:00:00.000Z", "msg_1", "req_1", 400_000)  # USD 10.00 at Opus 4.6's 25/M


class Tree:
    def __init__(self, tmp_path: Path) -> None:
        self.root, self.state = tmp_path / "cc", tmp_path / "state"
        (self.root / "projects" / "p").mkdir(parents=True)

    def write(self, name: str, text: str) -> Path:
        path = self.root / "projects" / "p" / name
        path.write_text(text)
        return path

    def scan(self, month: int, day: int, deadline: float | None = None):  # type: ignore[no-untyped-def]
        return refresh(self.state, "c", [self.root], datetime(2026, month, day, tzinfo=UTC), deadline)

    def feb7(self, ledger) -> float:  # type: ignore[no-untyped-def]
        priced = daily_usd(ledger, LA, OFFER.prices, 0.01, date(2026, 2, 7), date(2026, 2, 7))
        return round(priced.days[0].usd, 2)


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path)


def test_a_response_counted_long_ago_and_repeated_in_a_new_file_counts_once(tree: Tree) -> None:
    """review C2, its repro: the original file is still there, so its keys are kept."""
    tree.write("a.jsonl", RESPONSE)
    assert tree.feb7(tree.scan(2, 8)) == 10.00
    tree.write("b.jsonl", RESPONSE)
    assert tree.feb7(tree.scan(2, 20)) == 10.00
    tree.write("x.jsonl", "{}\n")
    assert tree.feb7(tree.scan(3, 20)) == 10.00
    tree.write("c.jsonl", RESPONSE)
    assert tree.feb7(tree.scan(3, 25)) == 10.00


def test_a_repeat_past_the_ledgers_memory_is_skipped_and_named_not_counted_again(tree: Tree) -> None:
    """The files that held it are gone (Claude Code's cleanup), and 40 days have passed: `seen`
    forgot the key, so a copy cannot be told from a new response. It is not counted again."""
    first = tree.write("a.jsonl", RESPONSE)
    assert tree.feb7(tree.scan(2, 8)) == 10.00
    first.unlink()
    tree.write("x.jsonl", "{}\n")
    assert tree.feb7(tree.scan(3, 20)) == 10.00  # the horizon is now 40 days back: Feb 8
    late = tree.write("c.jsonl", RESPONSE + line("2026-03-24T10:00:00.000Z", "msg_2", "req_2", 40_000))
    ledger = tree.scan(3, 25)
    assert tree.feb7(ledger) == 10.00
    assert ledger.skipped_in == {str(late): {"too-old": 1}} and ledger.skipped == {"too-old": 1}
    assert sum(t.output for models in ledger.hours.values() for t in models.values()) == 440_000  # msg_2 counts


def test_the_horizon_waits_for_the_oldest_transcript_present(tree: Tree) -> None:
    """A live transcript can hold responses older than 40 days (Claude Code deletes a file 30
    days after its last activity): their keys stay until that file is gone."""
    tree.write("a.jsonl", RESPONSE)
    tree.scan(2, 8)
    tree.write("x.jsonl", "{}\n")
    tree.scan(6, 1)
    with sqlite3.connect(ledger_path(tree.state, "c")) as db:
        assert db.execute("SELECT value FROM meta WHERE name = 'horizon'").fetchone() == ("2026-02-07T20",)
        assert db.execute("SELECT key FROM seen").fetchall() == [("msg_1:req_1",)]
    (tree.root / "projects" / "p" / "a.jsonl").unlink()
    tree.scan(6, 2)
    with sqlite3.connect(ledger_path(tree.state, "c")) as db:
        assert db.execute("SELECT value FROM meta WHERE name = 'horizon'").fetchone() == ("2026-04-23T00",)
        assert db.execute("SELECT count(*) FROM seen").fetchone() == (0,)
    assert tree.feb7(load(tree.state, "c")) == 10.00  # `hours` keeps everything


def test_the_best_copy_wins_whatever_the_order_of_the_files(tmp_path: Path) -> None:
    """Two copies as good as each other by tokens and chain (another hour): the same one counts
    whichever file is read first. Before, the first one met stayed."""
    early = line("2026-02-07T20:59:59.000Z", "msg_1", "req_1", 1000)
    late = line("2026-02-07T21:00:01.000Z", "msg_1", "req_1", 1000)
    results = []
    for first, second in ((early, late), (late, early)):
        tree = Tree(tmp_path / str(len(results)))
        path = tree.write("a.jsonl", first)
        an_hour_ago = path.stat().st_mtime - 3600
        os.utime(path, (an_hour_ago, an_hour_ago))  # read first: the newest transcripts are read first
        tree.write("b.jsonl", second)
        results.append(sorted(tree.scan(2, 8).hours))
    assert results[0] == results[1] == ["2026-02-07T21"]


def schema_1_ledger(path: Path, transcript: Path) -> None:
    """A ledger as reminderd wrote it before the horizon (schema 1, its own DDL), holding one
    response of `transcript`, read to its end, and scanned on Mar 20."""
    counts = "input INTEGER, output INTEGER, write_5m INTEGER, write_1h INTEGER, cache_read INTEGER, " \
             "web_searches INTEGER"
    path.parent.mkdir(parents=True)
    st = transcript.stat()
    with sqlite3.connect(path) as db:
        db.executescript(f"""
            CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
            CREATE TABLE hours (hour TEXT, model TEXT, {counts}, PRIMARY KEY (hour, model)) WITHOUT ROWID;
            CREATE TABLE files (path TEXT PRIMARY KEY, ino INTEGER, size INTEGER, mtime_ns INTEGER,
                                offset INTEGER, tail TEXT, racy INTEGER, malformed INTEGER, synthetic INTEGER)
                                WITHOUT ROWID;
            CREATE TABLE seen (key TEXT PRIMARY KEY, hour TEXT, model TEXT, {counts}, sidechain INTEGER)
                               WITHOUT ROWID;
            INSERT INTO meta VALUES ('schema', '1'), ('scanned_at', '2026-03-20T00:00:00+00:00');
            INSERT INTO hours VALUES ('2026-03-18T10', 'claude-opus-4-6', 0, 400000, 0, 0, 0, 0);
            INSERT INTO seen VALUES ('msg_1:req_1', '2026-03-18T10', 'claude-opus-4-6', 0, 400000, 0, 0, 0, 0, 0);
        """)
        with open(transcript, "rb") as handle:
            import hashlib

            tail = hashlib.sha1(handle.read()[-256:]).hexdigest()
        db.execute("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, 0, 2, 0)",
                   (str(transcript), st.st_ino, st.st_size, st.st_mtime_ns, st.st_size, tail))


def test_a_schema_1_ledger_is_brought_up_to_date_without_losing_counts(tree: Tree,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    transcript = tree.write("a.jsonl", line("2026-03-18T10:00:00.000Z", "msg_1", "req_1", 400_000) + "{\n{\n")
    path = ledger_path(tree.state, "c")
    schema_1_ledger(path, transcript)
    before = load(tree.state, "c")  # read as it is, before any migration
    assert before.files == 1 and before.skipped == {"malformed": 2}
    monkeypatch.setattr(transcripts, "read_new_lines", lambda *a: pytest.fail("read an unchanged file again"))
    after = tree.scan(3, 21)
    assert after.hours == before.hours and after.skipped == {"malformed": 2}
    assert after.skipped_in == {str(transcript): {"malformed": 2}}
    with sqlite3.connect(path) as db:
        meta = dict(db.execute("SELECT name, value FROM meta"))
        assert meta["schema"] == "2" and meta["horizon"] == "2026-02-08T00"  # 40 days before its last scan
        assert db.execute("SELECT typeof(path), oldest FROM files").fetchall() == [("blob", "2026-02-08T00")]
    monkeypatch.undo()
    tree.write("b.jsonl", line("2026-03-18T10:00:00.000Z", "msg_1", "req_1", 400_000))  # a copy: known
    assert tree.scan(3, 22).hours == before.hours


def test_a_deadline_stops_starting_transcripts_and_the_rest_comes_next_time(tree: Tree,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(5):
        tree.write(f"s{i}.jsonl", line(f"2026-02-0{i + 1}T10:00:00.000Z", f"msg_{i}", "r", 1000) + RESPONSE)
    whole = Tree(tree.root.parent / "whole")
    whole.root = tree.root
    expected = whole.scan(2, 8)
    clock = iter(range(1000))
    monkeypatch.setattr(workers.time, "monotonic", lambda: float(next(clock)))
    first = tree.scan(2, 8, deadline=2.5)  # time for about two transcripts, then no new one
    assert 0 < first.pending < 5 and first.scanned_at is None
    assert 0 < sum(t.output for models in first.hours.values() for t in models.values()) < 404_000
    assert load(tree.state, "c").pending == first.pending
    again = tree.scan(2, 8, deadline=-1)  # nothing started at all
    assert again.pending == first.pending and again.hours == first.hours
    monkeypatch.undo()
    last = tree.scan(2, 8)
    assert last.pending == 0 and last.hours == expected.hours and last.scanned_at is not None


def test_an_unfinished_refresh_keeps_the_horizon(tree: Tree) -> None:
    """A transcript not read yet may hold old responses: the keys before it must stay."""
    tree.write("a.jsonl", RESPONSE)
    tree.scan(2, 8)
    (tree.root / "projects" / "p" / "a.jsonl").unlink()
    tree.write("b.jsonl", line("2026-01-01T00:00:00.000Z", "msg_0", "r", 4000))
    tree.scan(6, 1, deadline=-1)
    with sqlite3.connect(ledger_path(tree.state, "c")) as db:
        assert db.execute("SELECT count(*) FROM seen").fetchone() == (1,)
    ledger = tree.scan(6, 1)
    assert not ledger.skipped and sum(t.output for m in ledger.hours.values() for t in m.values()) == 404_000


def test_counts_stop_at_sqlites_largest_integer(tree: Tree) -> None:
    """security H1: two lines of 9e18 tokens overflowed SQLite's INTEGER in the Python-side sum.
    A count is now at most usage_logs.MAX_COUNT, and an hour's total stops at MAX_SUM."""
    tree.write("a.jsonl", line("2026-02-07T20:00:00.000Z", "msg_1", "r", 2**40))
    tree.scan(2, 8)
    with sqlite3.connect(ledger_path(tree.state, "c")) as db:
        db.execute("UPDATE hours SET output = ?", (ledger_module.MAX_SUM - 5,))
    tree.write("b.jsonl", line("2026-02-07T20:10:00.000Z", "msg_2", "r", 2**40))
    ledger = tree.scan(2, 9)
    assert next(iter(ledger.hours["2026-02-07T20"].values())).output == ledger_module.MAX_SUM


def test_a_refresh_that_fails_for_any_reason_leaves_the_last_ledger(tree: Tree, monkeypatch: pytest.MonkeyPatch,
                                                                    ) -> None:
    """`status`, `usage` and the daemon's tick go on: whatever escapes a refresh is reported."""
    from conftest import make_config

    tree.write("a.jsonl", RESPONSE)
    tree.scan(2, 8)
    monkeypatch.setattr(ledger_module, "refresh", lambda *a: 1 / 0)
    config = make_config(f'[credit.usage]\nclaude_code_logs = true\nclaude_code_dirs = ["{tree.root}"]\n')
    reported: list[str] = []
    got = ledger_module.current(config, tree.state, datetime(2026, 2, 9, tzinfo=UTC), reported.append)
    assert tree.feb7(got["c"]) == 10.00 and "ZeroDivisionError" in reported[0]


def test_hours_kept_by_an_older_reader_outside_the_years_are_not_shown(tree: Tree) -> None:
    """Schema 1 stored the hour of "0001-01-01T00:30:00Z" as it was: a zone's day of it overflows."""
    tree.write("a.jsonl", RESPONSE)
    tree.scan(2, 8)
    with sqlite3.connect(ledger_path(tree.state, "c")) as db:
        db.execute("INSERT INTO hours VALUES ('0001-01-01T00', 'claude-opus-4-6', 0, 5, 0, 0, 0, 0)")
    ledger = load(tree.state, "c")
    assert list(ledger.hours) == ["2026-02-07T20"]
    daily_usd(ledger, LA, OFFER.prices, 0.01)


def test_the_daemons_source_passes_its_deadline_on(tree: Tree) -> None:
    """issue 19 part 3: the daemon's sources job gives each source a deadline; a first scan of a
    large tree then runs in slices instead of holding the job."""
    import time

    from conftest import make_config

    from reminderd.sources import LedgerSource

    tree.write("a.jsonl", RESPONSE)
    config = make_config(f'[credit.usage]\nclaude_code_logs = true\nclaude_code_dirs = ["{tree.root}"]\n')
    now = datetime(2026, 2, 9, tzinfo=UTC)
    source = LedgerSource()
    assert source.refresh(config, tree.state, now, time.monotonic() - 1)["c"].pending == 1
    assert source.every == timedelta(0)  # the rest is read at the sources job's next pass
    assert source.refresh(config, tree.state, now, time.monotonic() + 60)["c"].pending == 0
    assert source.every == LedgerSource.EVERY  # then every 12 minutes again


def test_the_horizon_is_a_utc_hour_whatever_the_zone_of_now(tree: Tree) -> None:
    tree.write("x.jsonl", "{}\n")
    refresh(tree.state, "c", [tree.root], datetime(2026, 6, 2, tzinfo=ZoneInfo("Asia/Tokyo")))  # 06-01 15:00 UTC
    with sqlite3.connect(ledger_path(tree.state, "c")) as db:
        assert db.execute("SELECT value FROM meta WHERE name = 'horizon'").fetchone() == ("2026-04-22T15",)


def test_a_file_changed_unseen_by_stat_right_after_a_scan_is_read_again(tree: Tree) -> None:
    """A file scanned within RACY_NS of its last write may change again with the same size and
    mtime (a coarse clock): it is looked at again until a scan sees it settled."""
    path = tree.write("a.jsonl", line("2026-02-07T20:00:00.000Z", "msg_1", "req_1", 1000))
    st = path.stat()
    tree.scan(2, 8)
    path.write_text(line("2026-02-07T20:00:00.000Z", "msg_1", "req_1", 9000))  # the whole response, as long
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size
    ledger = tree.scan(2, 8)
    assert next(iter(ledger.hours["2026-02-07T20"].values())).output == 9000


def test_a_ledger_of_a_newer_reminderd_is_refused_and_left_alone(tree: Tree) -> None:
    tree.write("a.jsonl", RESPONSE)
    tree.scan(2, 8)
    with sqlite3.connect(ledger_path(tree.state, "c")) as db:
        db.execute("UPDATE meta SET value = '3' WHERE name = 'schema'")
    with pytest.raises(ledger_module.StateError, match="written by a newer reminderd"):
        tree.scan(2, 9)
    assert tree.feb7(load(tree.state, "c")) == 10.00
