"""Claude Code's transcripts into the ledger: every counting rule of CLAUDE_CODE_LOGS.md, on
synthetic trees built here, with the dollars worked out by hand (Opus 4.6: USD 5 in / 25 out
per million tokens; fast mode 30 / 150; Sonnet 4.5: 3 / 15; Haiku 4.5: 1 / 5)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from reminderd.ledger import load, refresh
from reminderd.offers import CLAUDE_EXTRA_USAGE_2026_02 as OFFER
from reminderd.prices import normalise_model
from reminderd.spend import NO_USAGE, daily_usd
from reminderd.usage_logs import default_roots, transcript_files

NOW = datetime(2026, 2, 20, 12, tzinfo=UTC)
UTCZ = ZoneInfo("UTC")


def line(msg_id: str | None = "msg_1", request: str | None = "req_1", model: str = "claude-opus-4-6",
         at: str = "2026-02-09T01:03:35.960Z", inp: int = 0, out: int = 0, write_5m: int = 0, write_1h: int = 0,
         read: int = 0, searches: int = 0, speed: str = "standard", sidechain: bool = False, split: bool = True,
         content: str = "some text") -> str:
    usage: dict = {"input_tokens": inp, "output_tokens": out, "cache_creation_input_tokens": write_5m + write_1h,  # type: ignore[type-arg]
                   "cache_read_input_tokens": read, "service_tier": "standard", "speed": speed}
    if split:
        usage["cache_creation"] = {"ephemeral_5m_input_tokens": write_5m, "ephemeral_1h_input_tokens": write_1h}
    if searches:
        usage["server_tool_use"] = {"web_search_requests": searches}
    message = {"id": msg_id, "model": model, "role": "assistant", "content": [{"type": "text", "text": content}],
               "usage": usage}
    record = {"type": "assistant", "timestamp": at, "sessionId": "s", "isSidechain": sidechain, "message": message}
    if request is not None:
        record["requestId"] = request
    return json.dumps(record)


Tree = Callable[..., Path]


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    """tree("proj/a.jsonl", line(...), ...) writes a transcript under <root>/projects."""
    root = tmp_path / "claude"

    def write(relative: str, *lines: str, end: str = "\n") -> Path:
        path = root / "projects" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(text + end for text in lines), encoding="utf-8")
        return path
    write.root = root  # type: ignore[attr-defined]
    return write


def scan(tree: Tree, state: Path, now: datetime = NOW):  # type: ignore[no-untyped-def]
    return refresh(state, "c", [tree.root], now)  # type: ignore[attr-defined]


def usd(ledger, zone: ZoneInfo = UTCZ, day: date | None = None) -> float:  # type: ignore[no-untyped-def]
    days = daily_usd(ledger, zone, OFFER.prices, OFFER.web_search_usd).days
    return sum(d.usd for d in days if day is None or d.day == day)


def test_one_response_priced_by_hand(tree: Tree, tmp_path: Path) -> None:
    # 1000 in x 5 + 2000 out x 25 + 4000 5-min writes x 5 x 1.25 + 100000 reads x 5 x 0.1, per million
    tree("p/a.jsonl", line(inp=1000, out=2000, write_5m=4000, read=100_000))
    assert usd(scan(tree, tmp_path)) == pytest.approx(0.005 + 0.05 + 0.025 + 0.05)  # 0.13


def test_one_hour_cache_writes_web_searches_and_old_cache_fields(tree: Tree, tmp_path: Path) -> None:
    tree("p/a.jsonl",
         line("m1", write_1h=1000),  # 1000 x 5 x 2 = 0.01
         line("m2", searches=3),  # 3 x 0.01 = 0.03
         line("m3", write_5m=2000, split=False))  # no split: a 5-minute write, 2000 x 5 x 1.25 = 0.0125
    assert usd(scan(tree, tmp_path)) == pytest.approx(0.01 + 0.03 + 0.0125)


def test_fast_mode_uses_its_row_cache_rates_included(tree: Tree, tmp_path: Path) -> None:
    # 1000 out x 150 + 10000 reads x 30 x 0.1
    tree("p/a.jsonl", line(out=1000, read=10_000, speed="fast"))
    assert usd(scan(tree, tmp_path)) == pytest.approx(0.15 + 0.03)


def test_us_inference_and_any_speed_but_standard_are_marked_as_claude_code_prices_them(tree: Tree,
                                                                                       tmp_path: Path) -> None:
    """usage.inference_geo "us" is 1.1x (prices.US); a speed Claude Code does not know is fast."""
    us = json.loads(line("m1", out=1000))
    us["message"]["usage"]["inference_geo"] = "us"
    tree("p/a.jsonl", json.dumps(us), line("m2", out=1000, speed="turbo"), line("m3", out=1000, speed="fast"),
         line("m4", model="claude-haiku-5-5", inp=150_000, speed="fast"))
    ledger = scan(tree, tmp_path)
    assert sorted(ledger.hours["2026-02-09T01"]) == ["claude-haiku-5-5@long@fast", "claude-opus-4-6@fast",
                                                     "claude-opus-4-6@us"]
    opus = daily_usd(ledger, UTCZ, OFFER.prices, OFFER.web_search_usd).days[0].by_model
    assert opus["claude-opus-4-6@us"] == pytest.approx(1000 * 25 * 1.1 / 1e6)


def test_duplicates_across_files_count_once_keeping_the_largest_copy(tree: Tree, tmp_path: Path) -> None:
    tree("p/session.jsonl", line("m1", "r1", out=10), line("m2", "r2", out=1000))  # m1: a streaming partial
    tree("p/resumed.jsonl", line("m1", "r1", out=2000), line("m2", "r2", out=1000))  # the final m1; m2 again
    tree("p/s/subagents/x.jsonl", line("m2", "r2", out=1000, sidechain=True))  # and from a sidechain
    assert usd(scan(tree, tmp_path)) == pytest.approx((2000 + 1000) * 25 / 1e6)


def test_the_same_id_with_another_request_is_another_response(tree: Tree, tmp_path: Path) -> None:
    tree("p/a.jsonl", line("m1", "r1", out=1000), line("m1", "r2", out=1000), line("m1", None, out=1000))
    assert usd(scan(tree, tmp_path)) == pytest.approx(3 * 1000 * 25 / 1e6)


def test_a_sidechain_copy_never_replaces_an_equal_main_one(tree: Tree, tmp_path: Path) -> None:
    tree("p/a.jsonl", line("m1", out=1000, sidechain=False), line("m1", out=1000, sidechain=True, model="haiku"))
    assert set(next(iter(scan(tree, tmp_path).hours.values()))) == {"claude-opus-4-6"}


def test_synthetic_and_bad_lines_cost_nothing_and_are_counted(tree: Tree, tmp_path: Path) -> None:
    path = tree("p/a.jsonl", line("m1", model="<synthetic>", out=5000), line("m2", out=1000),
                '{"type":"assistant","message":{"usage":{"output_tokens":', '{"type": "user", "message": "hi"}')
    with open(path, "ab") as out:
        out.write(b'{"message":{"usage":{"output_tokens":1}},"x":"\xff\xfe"}\n')
    ledger = scan(tree, tmp_path)
    assert usd(ledger) == pytest.approx(1000 * 25 / 1e6)
    assert dict(ledger.skipped) == {"synthetic": 1, "malformed": 2}


def test_crlf_line_ends(tree: Tree, tmp_path: Path) -> None:
    tree("p/a.jsonl", line("m1", out=1000), line("m2", out=1000), end="\r\n")
    assert usd(scan(tree, tmp_path)) == pytest.approx(2 * 1000 * 25 / 1e6)


def test_unknown_models_are_priced_high_and_named(tree: Tree, tmp_path: Path) -> None:
    tree("p/a.jsonl", line("m1", model="claude-mystery-9", out=1000),
         line("m2", model="claude-haiku-4-5-20251001", out=1000))
    priced = daily_usd(scan(tree, tmp_path), UTCZ, OFFER.prices, OFFER.web_search_usd)
    assert priced.unknown == {"claude-mystery-9": "claude-opus-4-1"}  # the dearest standard row, never 0
    assert sum(d.usd for d in priced.days) == pytest.approx(1000 * 75 / 1e6 + 1000 * 5 / 1e6)  # never below 15/75


@pytest.mark.parametrize("raw", ["claude-opus-4-6", "claude-opus-4-6-20260205", "anthropic/claude-4.6-opus-x",
                                 "Claude-Opus-4.6"])
def test_model_ids_are_one_model(raw: str) -> None:
    assert normalise_model(raw) == "claude-opus-4-6"


def test_a_truncated_last_line_is_read_when_it_is_complete(tree: Tree, tmp_path: Path) -> None:
    whole, partial = line("m1", out=1000), line("m2", out=2000)
    path = tree("p/a.jsonl", whole)
    with open(path, "a") as out:
        out.write(partial[:40])  # Claude Code is still writing it
    assert usd(scan(tree, tmp_path)) == pytest.approx(1000 * 25 / 1e6)
    with open(path, "a") as out:
        out.write(partial[40:] + "\n")
    assert usd(scan(tree, tmp_path)) == pytest.approx(3000 * 25 / 1e6)
    assert usd(scan(tree, tmp_path)) == pytest.approx(3000 * 25 / 1e6)  # and never twice


def test_the_ledger_outlives_the_transcripts(tree: Tree, tmp_path: Path) -> None:
    path = tree("p/a.jsonl", line("m1", out=1000))
    scan(tree, tmp_path)
    path.unlink()  # Claude Code's cleanup after 30 days
    ledger = scan(tree, tmp_path)
    assert usd(ledger) == pytest.approx(1000 * 25 / 1e6) and ledger.files == 0
    assert usd(load(tmp_path, "c")) == pytest.approx(1000 * 25 / 1e6)


def test_a_file_rewritten_shorter_is_read_again_without_double_counting(tree: Tree, tmp_path: Path) -> None:
    tree("p/a.jsonl", line("m1", out=1000), line("m2", out=1000), line(None, None, out=500, content="no id"))
    scan(tree, tmp_path)
    # rewritten (a new inode, shorter): two old lines, the id-less one again, and a new one
    path = tree.root / "projects/p/a.jsonl"  # type: ignore[attr-defined]
    path.unlink()
    tree("p/a.jsonl", line("m2", out=1000), line(None, None, out=500, content="no id"), line("m3", out=4000))
    assert usd(scan(tree, tmp_path)) == pytest.approx((1000 + 1000 + 500 + 4000) * 25 / 1e6)


def test_a_file_rewritten_in_place_and_grown_past_the_old_offset_is_read_whole(tree: Tree, tmp_path: Path) -> None:
    path = tree("p/a.jsonl", line("m1", out=1000), line("m2", out=1000))
    scan(tree, tmp_path)
    # the same inode, cut back to its first line, then longer than before: stat alone cannot tell
    with open(path, "r+") as out:
        out.truncate(len(line("m1", out=1000)) + 1)
        out.seek(0, os.SEEK_END)
        out.write(line("m3", out=4000, content="a longer response " * 20) + "\n")
    assert usd(scan(tree, tmp_path)) == pytest.approx((1000 + 1000 + 4000) * 25 / 1e6)


def test_an_unchanged_tree_is_not_read_again(tree: Tree, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tree("p/a.jsonl", line("m1", out=1000))
    an_hour_ago = path.stat().st_mtime - 3600  # outside the window in which a rewrite could go unseen
    os.utime(path, (an_hour_ago, an_hour_ago))
    first = scan(tree, tmp_path)
    import reminderd.transcripts as transcripts

    monkeypatch.setattr(transcripts, "read_new_lines", lambda *a: pytest.fail("read an unchanged file"))
    assert scan(tree, tmp_path).hours == first.hours


def test_days_are_local_and_half_hour_zones_split_the_hour(tree: Tree, tmp_path: Path) -> None:
    # 18:00-19:00 UTC is 23:30-00:30 in Kolkata: half the hour on each side of midnight
    tree("p/a.jsonl", line("m1", at="2026-02-09T18:10:00Z", out=2000))
    ledger = scan(tree, tmp_path)
    kolkata = ZoneInfo("Asia/Kolkata")
    assert usd(ledger, kolkata, date(2026, 2, 9)) == pytest.approx(1000 * 25 / 1e6)
    assert usd(ledger, kolkata, date(2026, 2, 10)) == pytest.approx(1000 * 25 / 1e6)
    assert usd(ledger, ZoneInfo("America/Los_Angeles"), date(2026, 2, 9)) == pytest.approx(2000 * 25 / 1e6)


def test_roots_as_claude_code_has_them(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert default_roots({}, home) == [home / ".config/claude", home / ".claude"]
    assert default_roots({"XDG_CONFIG_HOME": "/x"}, home) == [Path("/x/claude"), home / ".claude"]
    assert default_roots({"CLAUDE_CONFIG_DIR": "/a,/b"}, home) == [Path("/a"), Path("/b")]
    for root in (home / ".config/claude", home / ".claude"):
        (root / "projects/p").mkdir(parents=True)
    (home / ".claude/projects/p/a.jsonl").write_text("")
    (home / ".claude/projects/p/s/subagents").mkdir(parents=True)
    (home / ".claude/projects/p/s/subagents/b.jsonl").write_text("")
    os.symlink(home / ".claude/projects/p/a.jsonl", home / ".config/claude/projects/p/same.jsonl")
    files = [path for path, _ in transcript_files(default_roots({}, home))]
    assert len(files) == 2 and "b.jsonl" in [Path(p).name for p in files]  # a.jsonl, reached twice, is read once


def test_nothing_found_is_an_empty_ledger(tmp_path: Path) -> None:
    ledger = refresh(tmp_path / "state", "c", [tmp_path / "nowhere"], NOW)
    assert ledger.hours == {} and ledger.files == 0 and NO_USAGE.files == 0


# -- the commands ------------------------------------------------------------------------------------

LOGS_CONFIG = """timezone = "UTC"
[[credit]]
id = "c"
plan = "pro"
subscribed_at = 2025-09-01
claimed_at = 2026-02-06T09:30:00Z
[credit.usage]
claude_code_logs = true
claude_code_dirs = ["{root}"]
"""


@pytest.fixture
def logs_config(tree: Tree, write_config: Callable[[str], Path]) -> Path:
    tree("p/a.jsonl",
         line("m1", at="2026-02-08T10:00:00Z", out=40_000),  # 1.00
         line("m2", at="2026-02-09T10:00:00Z", out=80_000),  # 2.00
         line("m3", at="2026-02-09T11:00:00Z", model="claude-haiku-4-5", out=100_000),  # 0.50
         line("m4", at="2026-02-10T10:00:00Z", model="claude-mystery-9", out=40_000))  # 3.00, as Opus 4 (75/M)
    return write_config(LOGS_CONFIG.format(root=tree.root))  # type: ignore[attr-defined]


def test_usage_shows_the_dollars_per_day(cli, logs_config: Path) -> None:  # type: ignore[no-untyped-def]
    from freezegun import freeze_time

    with freeze_time("2026-02-11T12:00:00Z"):
        data = json.loads(cli("--config", str(logs_config), "usage", "--json", "--days", "4").stdout)
        text = cli("--config", str(logs_config), "usage", "--since", "2026-02-08").stdout
    assert [(d["date"], d["usd"], d["by_model"]) for d in data["days"]] == [
        ("2026-02-08", 1.0, {"claude-opus-4-6": 1.0}),
        ("2026-02-09", 2.5, {"claude-haiku-4-5": 0.5, "claude-opus-4-6": 2.0}),
        ("2026-02-10", 3.0, {"claude-mystery-9": 3.0}),
        ("2026-02-11", 0.0, {})]
    assert data["total_usd"] == 6.5 and data["since"] == "2026-02-08" and data["since_claim_usd"] == 6.5
    assert data["unknown_models"] == {"claude-mystery-9": "claude-opus-4-1"}
    assert any("claude-mystery-9" in w for w in data["warnings"]) and "not a bill" in data["note"]
    with freeze_time("2026-02-11T12:00:00Z"):  # the mystery day not shown, but in the total since the claim
        two = json.loads(cli("--config", str(logs_config), "usage", "--json", "--days", "1").stdout)
    assert two["unknown_models"] == {"claude-mystery-9": "claude-opus-4-1"} and \
        any("claude-mystery-9" in w for w in two["warnings"])
    assert "Wed 2026-02-11  USD     0.00  ........................" in text  # plain ASCII when not a terminal
    assert "Mon 2026-02-09  USD     2.50  ####################....  claude-opus-4-6 2.00, claude-haiku-4-5 0.50" in text


def test_status_names_the_logs_as_a_source_and_they_outlive_the_transcripts(  # type: ignore[no-untyped-def]
        cli, logs_config: Path, tree: Tree) -> None:
    from freezegun import freeze_time

    with freeze_time("2026-02-11T12:00:00Z"):
        before = json.loads(cli("--config", str(logs_config), "status", "--json").stdout)["credits"][0]["forecast"]
    assert before["sources"] == ["claude-code-logs"] and before["basis"] == "claude-code-logs"
    # whole days since the claim (02-07 to 02-10): 0, 1.00, 2.50, 3.00; p90 = 2.50 + 0.7 x 0.50 = 2.85
    assert before["spend_usd_per_day"]["high"] == 2.85
    for path in (tree.root / "projects").rglob("*.jsonl"):  # type: ignore[attr-defined]
        path.unlink()
    with freeze_time("2026-02-11T12:00:00Z"):
        after = json.loads(cli("--config", str(logs_config), "status", "--json").stdout)["credits"][0]["forecast"]
        usage = json.loads(cli("--config", str(logs_config), "usage", "--json").stdout)
    assert after == before and usage["total_usd"] == 6.5


def test_usage_needs_a_credit_that_reads_the_logs(cli) -> None:  # type: ignore[no-untyped-def]
    from conftest import ROOT

    result = cli("--config", str(ROOT / "config.example.toml"), "usage")
    assert result.exit_code == 78 and "claude_code_logs = true" in result.stderr  # a config matter


def test_a_whole_last_line_without_its_newline_counts_once(tree: Tree, tmp_path: Path) -> None:
    path = tree("p/a.jsonl", line("m1", out=1000), line("m2", out=1000), end="")  # no newlines at all
    assert usd(scan(tree, tmp_path)) == 0  # m1 and m2 run together on one line: malformed
    path.write_text(line("m1", out=1000) + "\n" + line("m2", out=1000))
    assert usd(scan(tree, tmp_path)) == pytest.approx(2000 * 25 / 1e6)
    with open(path, "a") as out:
        out.write("\n" + line("m3", out=1000) + "\n")
    assert usd(scan(tree, tmp_path)) == pytest.approx(3000 * 25 / 1e6)


def test_lines_longer_than_a_read_block(tree: Tree, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import reminderd.transcripts as transcripts

    monkeypatch.setattr(transcripts, "WHOLE_FILE", 0)
    monkeypatch.setattr(transcripts, "CHUNK", 64)  # every line spans several blocks
    tree("p/a.jsonl", line("m1", out=1000, content="x" * 500), line("m2", out=2000), '{"type":"user"}')
    assert usd(scan(tree, tmp_path)) == pytest.approx(3000 * 25 / 1e6)


@pytest.mark.parametrize("stamp,hour", [
    ("2026-02-09T01:03:35.960Z", "2026-02-09T01"), ("2026-02-09T01:03:35Z", "2026-02-09T01"),
    ("2026-02-09T02:03:35+01:00", "2026-02-09T01"), ("yesterday", None), ("", None)])
def test_timestamps_to_utc_hours(tree: Tree, tmp_path: Path, stamp: str, hour: str | None) -> None:
    tree("p/a.jsonl", line("m1", at=stamp, out=1000))
    ledger = scan(tree, tmp_path)
    assert list(ledger.hours) == ([hour] if hour else []) and dict(ledger.skipped) == ({} if hour else {"malformed": 1})


def test_a_damaged_ledger_is_put_aside_and_rebuilt(tree: Tree, tmp_path: Path) -> None:
    from reminderd.ledger import ledger_path

    tree("p/a.jsonl", line("m1", out=1000))
    path = ledger_path(tmp_path, "c")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database" * 100)
    assert load(tmp_path, "c") == NO_USAGE  # reading never crashes
    assert usd(scan(tree, tmp_path)) == pytest.approx(1000 * 25 / 1e6)  # rebuilt from the transcripts
    assert [p.name for p in path.parent.glob("c.sqlite.damaged-*")]  # and the damaged file kept
    assert path.stat().st_mode & 0o777 == 0o600
