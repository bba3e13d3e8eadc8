"""No transcript can crash anything (issue 17 part 4; review M2; security H1): real-shaped lines,
damaged byte by byte, through ledger.refresh; the damage the reviews found, as fixed cases,
through the ledger and the commands.

Properties: a refresh never raises; a second scan of the same tree gives the same ledger; the
same files under other names (so read in another order) give the same totals.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reminderd.ledger import refresh
from reminderd.usage_logs import MAX_COUNT

GOLDEN = Path(__file__).resolve().parent / "golden" / "claude_code_2.1.332.jsonl"
SCRATCH = Path("/dev/shm") if Path("/dev/shm").is_dir() else None  # no fsync cost where there is tmpfs
# Claude Code 2.1.332's assistant line, as it wrote one against a local fake API (shortened ids),
# the shape of CLAUDE_CODE_LOGS.md, an older line without the cache split, and lines with no cost.
SEEDS = [
    b'{"parentUuid":"c0533b17","isSidechain":false,"message":{"id":"msg_fake01","type":"message","role":"assistant",'
    b'"model":"claude-opus-5-5","content":[{"type":"text","text":"Hello from the fake API."}],"stop_reason":'
    b'"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"cache_creation_input_tokens":2500,'
    b'"cache_read_input_tokens":18000,"output_tokens":120,"output_tokens_details":{"thinking_tokens":0},'
    b'"server_tool_use":{"web_search_requests":0,"web_fetch_requests":0},"service_tier":"standard",'
    b'"cache_creation":{"ephemeral_1h_input_tokens":500,"ephemeral_5m_input_tokens":2000},"inference_geo":"",'
    b'"iterations":[],"speed":"fast","fallback_credit":null},"stop_details":null},"apiBlockIndex":0,'
    b'"requestId":"req_fake02","type":"assistant","uuid":"9d395ea4","timestamp":"2026-12-06T07:04:29.679Z",'
    b'"effort":"medium","entrypoint":"sdk-cli","sessionId":"6e5fd804","version":"2.1.332"}',
    b'{"type":"assistant","timestamp":"2026-02-09T01:03:35.960Z","sessionId":"db8f7468","version":"2.1.97",'
    b'"isSidechain":false,"requestId":"req_011CZsJ65Hag","message":{"id":"msg_01","model":"claude-opus-4-6",'
    b'"role":"assistant","content":[{"type":"text","text":"x"}],"usage":{"input_tokens":1,"output_tokens":412,'
    b'"cache_creation_input_tokens":781,"cache_read_input_tokens":42507,"cache_creation":'
    b'{"ephemeral_5m_input_tokens":781,"ephemeral_1h_input_tokens":0},"service_tier":"standard",'
    b'"speed":"standard","server_tool_use":{"web_search_requests":2}}}}',
    b'{"type":"assistant","timestamp":"2026-02-09T02:00:00Z","requestId":"req_2","message":{"id":"msg_02",'
    b'"model":"claude-haiku-5-5-20261001","usage":{"input_tokens":150000,"output_tokens":40,'
    b'"cache_creation_input_tokens":100}}}',
    b'{"type":"user","timestamp":"2026-02-09T01:03:30.000Z","message":{"role":"user","content":"hi"}}',
    b'{"type":"system","subtype":"compact_boundary","timestamp":"2026-02-09T01:04:00.000Z"}',
    b'{"type":"assistant","message":{"id":"msg_03","model":"<synthetic>","usage":{"output_tokens":0}}}',
]
if GOLDEN.exists():  # the real file, once the Claude Code harness has recorded it
    SEEDS += [raw for raw in GOLDEN.read_bytes().splitlines() if b'"usage":' in raw][:4]
NASTY = [b"\x00", b"\xff", b"\xc3", b"\n", b"\r", b'"', b"\\", b"[", b"{", b"}", b",", b"-", b"9" * 20,
         str(2**63).encode(), b"1e400", b"NaN", b"-1", b"1.5", b'"5"', b"null", b"\\ud800", b"\\u0000", b"[" * 300,
         b"0001-01-01T00:30:00+01:00", b"9999-12-31T23:30:00-01:00", b'"usage":', b'"usage":{"output_tokens":7}']


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    line = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(line)))
        kind = draw(st.sampled_from(["flip", "insert", "delete", "copy", "cut", "number"]))
        if kind == "flip" and at < len(line):
            line[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            line[at:at] = draw(st.one_of(st.sampled_from(NASTY), st.binary(min_size=1, max_size=8)))
        elif kind == "delete":
            del line[at:at + draw(st.integers(1, 40))]
        elif kind == "copy":
            start = draw(st.integers(0, len(line)))
            line[at:at] = line[start:start + draw(st.integers(1, 60))]
        elif kind == "cut":
            del line[at:]
        elif kind == "number":  # a count made extreme, where one begins
            digit = line.find(b":", at) + 1
            if digit and line[digit:digit + 1].isdigit():
                line[digit:digit] = draw(st.sampled_from([b"9" * 19, b"-", str(MAX_COUNT).encode(), b"0."]))
    return bytes(line)


VARIANTS = {  # another copy of the same response (same ids): what the best copy is chosen between
    "same": lambda line: line,
    "another hour": lambda line: line.replace(b'T07:', b'T08:').replace(b'T01:', b'T00:').replace(b'T02:', b'T03:'),
    "a sidechain": lambda line: line.replace(b'"isSidechain":false', b'"isSidechain":true'),
    "another model": lambda line: line.replace(b'claude-opus-', b'claude-sonnet-').replace(b'haiku', b'opus'),
    "a partial": lambda line: line.replace(b'"output_tokens":', b'"output_tokens":1'),
}


@st.composite
def trees(draw: st.DrawFn) -> list[bytes]:
    """One to three files of lines from one pool, each maybe changed as another copy would be:
    responses repeat across files, as resumed sessions and sidechains make them."""
    pool = draw(st.lists(damaged(), min_size=1, max_size=5))
    contents = []
    for _ in range(draw(st.integers(1, 3))):
        picks = draw(st.lists(st.tuples(st.integers(0, len(pool) - 1), st.sampled_from(sorted(VARIANTS))),
                              min_size=1, max_size=5))
        lines = [VARIANTS[variant](pool[index]) for index, variant in picks]
        contents.append(b"\n".join(lines) + (b"\n" if draw(st.booleans()) else b""))
    return contents


NAMES = ("a.jsonl", "sub/b.jsonl", "sub/deeper/c.jsonl")


def write_tree(root: Path, contents: list[bytes], names: tuple[str, ...]) -> None:
    for name, data in zip(names, contents, strict=False):
        path = root / "projects" / "p" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    for age, name in enumerate(names[:len(contents)]):  # read newest first: the order follows the names
        path = root / "projects" / "p" / name
        os.utime(path, ns=(path.stat().st_mtime_ns - age * 10**10,) * 2)


def totals(ledger) -> tuple[dict[tuple[str, str], object], dict[str, int]]:  # type: ignore[no-untyped-def]
    return ({(hour, model): tokens for hour, models in ledger.hours.items() for model, tokens in models.items()},
            dict(ledger.skipped))


@settings(max_examples=max(20, 150 * settings.default.max_examples // 300), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(trees())
def test_damaged_transcripts_never_stop_a_refresh_nor_change_with_the_order(contents: list[bytes]) -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 12, 7, tzinfo=UTC)
    work = Path(tempfile.mkdtemp(prefix="ledger-fuzz-", dir=SCRATCH))
    try:
        write_tree(work / "one", contents, NAMES)
        first = refresh(work / "state-one", "c", [work / "one"], now)
        again = refresh(work / "state-one", "c", [work / "one"], now)
        assert totals(again) == totals(first)
        write_tree(work / "two", contents[::-1], NAMES[len(NAMES) - len(contents):])  # other names, other order
        assert totals(refresh(work / "state-two", "c", [work / "two"], now)) == totals(first)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- the damage the reviews found, one line at a time ------------------------------------------------

GOOD = ('{"timestamp":"2026-12-05T10:00:00.000Z","requestId":"r1","message":{"id":"m1","model":"claude-opus-4-6",'
        '"usage":{"input_tokens":1000,"output_tokens":2000}}}')


def bad(**changes: object) -> bytes:
    record: dict[str, object] = {"timestamp": "2026-12-05T11:00:00.000Z", "requestId": "r2",
                                 "message": {"id": "m2", "model": "claude-opus-4-6", "content": [],
                                             "usage": {"input_tokens": 1, "output_tokens": 1}}}
    message = record["message"]
    for key, value in changes.items():
        if key in ("timestamp", "requestId"):
            record[key] = value
        elif key in ("model", "id", "content"):
            message[key] = value  # type: ignore[index]
        else:
            message["usage"][key] = value  # type: ignore[index]
    return json.dumps(record).encode()


HOSTILE = {
    "year 1 with an offset": bad(timestamp="0001-01-01T00:30:00+01:00"),
    "year 9999 with an offset": bad(timestamp="9999-12-31T23:30:00-01:00"),
    "year 1 in UTC": bad(timestamp="0001-01-01T00:30:00.000Z"),
    "not a time of day": bad(timestamp="2026-13-45T99:00:00.000Z"),
    "a count of 2**63": bad(input_tokens=2**63),
    "a count of 10**20": bad(input_tokens=10**20),
    "a count over MAX_COUNT": bad(output_tokens=MAX_COUNT + 1),
    "negative": bad(output_tokens=-5),
    "a fraction": bad(output_tokens=1.5),
    "a string": bad(output_tokens="5"),
    "NaN": bad(output_tokens=0).replace(b'"output_tokens": 0', b'"output_tokens": NaN'),
    "1e400": bad(output_tokens=0).replace(b'"output_tokens": 0', b'"output_tokens": 1e400'),
    "nested 10,000 deep": bad(content=[]).replace(b'"content": []', b'"content": ' + b"[" * 10_000 + b"]" * 10_000),
    "nested a million deep, unclosed": bad(content=[]).replace(b'"content": []', b'"content": ' + b"[" * 10**6),
    "not UTF-8": bad(content="x").replace(b'"x"', b'"\xff\xfe"'),
    "a NUL byte": bad(content="x").replace(b'"x"', b'"a\x00b"'),
    "a lone surrogate": bad(id="m2").replace(b'"m2"', b'"\\ud800"'),
    "escape codes in a model's name": bad(model="claude-\u001b[2J"),
    "a model's name of a million brackets": bad(model="[" * 10**6),
}


@pytest.mark.parametrize("raw", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_damaged_line_is_skipped_as_malformed_and_its_file_named(tmp_path: Path, raw: bytes) -> None:
    from datetime import UTC, datetime

    path = tmp_path / "cc" / "projects" / "p" / "s.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(GOOD.encode() + b"\n" + raw + b"\n")
    ledger = refresh(tmp_path / "state", "c", [tmp_path / "cc"], datetime(2026, 12, 8, tzinfo=UTC))
    assert ledger.skipped_in == {str(path): {"malformed": 1}}
    assert totals(ledger)[0] == {("2026-12-05T10", "claude-opus-4-6"): (1000, 2000, 0, 0, 0, 0)}


def test_the_commands_go_on_and_name_the_file(cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                              write_config) -> None:
    """review M2's repro: a damaged timestamp made `status` and `usage` exit 1 with a traceback."""
    from freezegun import freeze_time

    path = tmp_path / "cc" / "projects" / "p" / "s.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(GOOD.encode() + b"\n" + HOSTILE["year 1 with an offset"] + b"\n")
    config = write_config(f'timezone = "America/Los_Angeles"\n[[credit]]\nid = "c"\nplan = "pro"\n'
                          f'claimed_at = 2026-12-01T09:00:00\n[credit.usage]\nclaude_code_logs = true\n'
                          f'claude_code_dirs = ["{tmp_path / "cc"}"]\n')
    with freeze_time("2026-12-08T10:05:00Z"):
        status = cli("--config", str(config), "status", "--json")  # (the text has review M1 of its own)
        usage = cli("--config", str(config), "usage", "--json")
        text = cli("--config", str(config), "usage")
    assert status.exit_code == 0 and usage.exit_code == 0 and text.exit_code == 0, status.stderr + usage.stderr
    data = json.loads(usage.stdout)
    assert data["skipped_in"] == {str(path): {"malformed": 1}} and data["skipped_lines"] == {"malformed": 1}
    assert "1 line(s) skipped as malformed" in text.stdout and f"{path} (1)" in text.stdout


def test_no_transcript_found_names_where_it_looked(cli, tmp_path: Path, write_config) -> None:  # type: ignore[no-untyped-def]
    config = write_config(f'timezone = "UTC"\n[[credit]]\nid = "c"\nplan = "pro"\n[credit.usage]\n'
                          f'claude_code_logs = true\nclaude_code_dirs = ["{tmp_path / "typo"}"]\n')
    usage = cli("--config", str(config), "usage")
    assert f"no Claude Code transcript found (looked for *.jsonl below {tmp_path / 'typo' / 'projects'})" \
        in usage.stdout
