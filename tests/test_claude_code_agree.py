"""The real writer and reminderd agree (issue 17 part 7): Claude Code 2.1.332 itself (tests/claude_code.py,
against the fake API) writes one session per model of reminderd's price table, and one per model with a
fast price in fast mode, into a fresh HOME; `reminderd usage --json`, run as the real CLI on that HOME,
gives per model the dollars of Claude Code's own `cost-state` lines, within a cent. And a transcript that
gains a line type or a field reminderd has never seen is read as before.

Every token kind is in each response, in millions, so that a wrong rate for any kind moves the dollars by
more than a cent (Haiku 5.5's cheap tier holds prompts of 100,000 tokens at most: there the cache rates
move less than a cent). Fast mode: the fake API answers `usage.speed` "fast", what a fast-mode transcript
line says (`claude -p` asks for fast mode for some models only: claude_code.py). Claude Code maps
`claude-opus-4-1` to `claude-opus-5-5` unless CLAUDE_CODE_DISABLE_LEGACY_MODEL_REMAP=1: both are run, and
the remapped one counts as the model that answered. About 40 `claude` runs, half a second each.

What the logs cannot show: the summary request of an automatic compaction is in Claude Code's own total
but in no transcript (the last test pins it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from claude_code import ClaudeCode, Run
from tools.fake_anthropic import FakeAnthropic, Reply, Usage

from reminderd.prices import CLAUDE_PRICES, FAST, LONG

BIG = Usage(input_tokens=1_234_567, output_tokens=2_345_678, cache_read_input_tokens=3_456_789,
            ephemeral_5m_input_tokens=1_111_111, ephemeral_1h_input_tokens=777_777)
# Haiku 5.5's cheap tier: a prompt (input, cache reads and writes) of 100,000 tokens, the most it holds
SHORT_PROMPT = Usage(input_tokens=40_000, output_tokens=2_345_678, cache_read_input_tokens=30_000,
                     ephemeral_5m_input_tokens=20_000, ephemeral_1h_input_tokens=10_000)
MODEST = Usage(input_tokens=50_000, output_tokens=20_000, cache_read_input_tokens=30_000,
                ephemeral_5m_input_tokens=5_000, ephemeral_1h_input_tokens=1_000)
SEARCHES = Usage(input_tokens=1_000, output_tokens=100, extra={"server_tool_use": {"web_search_requests": 7}})
NO_REMAP = {"CLAUDE_CODE_DISABLE_LEGACY_MODEL_REMAP": "1"}
# Claude Code's own ids where reminderd's table spells a model the new way
CLAUDE_CODE_ID = {"claude-sonnet-3-7": "claude-3-7-sonnet", "claude-haiku-3-5": "claude-3-5-haiku"}


@dataclass(frozen=True)
class Session:
    """One Claude Code session: `claude --model model`, whose cost reminderd counts under `key`;
    `resumed` are more prompts of the same session (its cost-state adds them up)."""

    key: str
    model: str
    usage: Usage = BIG
    fast: bool = False
    env: dict[str, str] = field(default_factory=dict)
    resumed: tuple[Usage, ...] = ()


def sessions() -> list[Session]:
    table = CLAUDE_PRICES.current()
    plain = [Session(model, CLAUDE_CODE_ID.get(model, model), env=NO_REMAP)
             for model in table if LONG not in model and FAST not in model and model != "claude-haiku-5-5"]
    fast = [Session(model + FAST, model, fast=True) for model, row in table.items() if row.fast]
    return [*plain, *fast,
            Session("claude-haiku-5-5", "claude-haiku-5-5", SHORT_PROMPT),
            Session("claude-haiku-5-5" + LONG, "claude-haiku-5-5"),
            Session("claude-opus-5-5", "claude-opus-4-1"),  # remapped by Claude Code
            Session("claude-opus-5-5@us", "claude-opus-5-5", Usage(1_000_000, 100_000, extra={"inference_geo": "us"})),
            Session("claude-opus-4-6", "claude-opus-4-6[1m]"),
            Session("claude-sonnet-5-5", "claude-sonnet-5-5-20260928"),
            # three prompts, one with web searches; small, or the second would compact the first (see below)
            Session("claude-sonnet-5", "claude-sonnet-5", MODEST, resumed=(SEARCHES, MODEST))]


SESSIONS = sessions()


@dataclass(frozen=True)
class Tree:
    """A HOME that Claude Code wrote transcripts into; the last run of each session, in SESSIONS order."""

    home: Path
    runs: list[Run]

    def claude_code_usd(self) -> dict[str, float]:
        """Claude Code's own dollars per reminderd key: each session's last cost-state total."""
        usd: dict[str, float] = {}
        for session, run in zip(SESSIONS, self.runs, strict=True):
            usd[session.key] = usd.get(session.key, 0.0) + run.cost_state.total_usd
        return usd


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tree]:
    home = tmp_path_factory.mktemp("claude-sessions") / "home"
    with FakeAnthropic() as api:
        runs = []
        for session in SESSIONS:
            claude = ClaudeCode(home, api, env=session.env)
            api.reply = Reply(usage=session.usage, speed="fast" if session.fast else "standard")
            run = claude.run(model=session.model, fast=session.fast)
            for usage in session.resumed:
                api.reply = Reply(usage=usage, speed="fast" if session.fast else "standard")
                run = claude.run(model=session.model, fast=session.fast, session_id=run.session_id, resume=True)
            assert run.returncode == 0, f"{session}: {run.stderr}"
            runs.append(run)
        yield Tree(home, runs)


def usage_json(home: Path, scratch: Path, claude_config_dir: Path | None = None) -> dict[str, Any]:
    """`reminderd usage --json` as a person runs it: a new process, HOME the one Claude Code wrote into
    (so it finds ~/.claude as Claude Code does, or $CLAUDE_CONFIG_DIR when given), its own config and
    state in fresh XDG folders, nothing inherited but PATH."""
    config = scratch / "config" / "reminderd" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('timezone = "UTC"\n[[credit]]\nid = "c"\nplan = "pro"\n'
                      "[credit.usage]\nclaude_code_logs = true\n")  # the roots Claude Code uses: no claude_code_dirs
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
           "XDG_CONFIG_HOME": str(scratch / "config"), "XDG_STATE_HOME": str(scratch / "state"),
           "XDG_CACHE_HOME": str(scratch / "cache"),
           **({"CLAUDE_CONFIG_DIR": str(claude_config_dir)} if claude_config_dir else {})}
    # two days: a run across midnight UTC still counts whole
    command = [sys.executable, "-m", "reminderd", "--config", str(config), "usage", "--json", "--days", "2"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    if sys.platform.startswith("linux"):
        assert (scratch / "state" / "reminderd").is_dir()  # the ledger went where XDG says
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def per_key(report: dict[str, Any]) -> dict[str, float]:
    usd: dict[str, float] = {}
    for day in report["days"]:
        for key, value in day["by_model"].items():
            usd[key] = round(usd.get(key, 0.0) + value, 2)
    return usd


def differences(got: dict[str, float], expected: dict[str, float]) -> dict[str, tuple[float | None, float | None]]:
    """{key: (reminderd, Claude Code)} where they differ by more than a cent (or one has no figure)."""
    keys = got.keys() | expected.keys()
    return {key: (got.get(key), round(expected[key], 6) if key in expected else None) for key in sorted(keys)
            if key not in got or key not in expected or abs(got[key] - expected[key]) > 0.01}


def test_every_row_of_the_table_is_run_under_an_id_claude_code_prices(tree: Tree) -> None:
    keys = {session.key for session in SESSIONS}
    table = CLAUDE_PRICES.current()
    assert {model for model in table if FAST not in model} <= keys  # a new row gets a session
    assert {model + FAST for model, row in table.items() if row.fast} <= keys
    unknown = {session.model for session, run in zip(SESSIONS, tree.runs, strict=True)
               if run.cost_state.has_unknown_model_cost}
    assert unknown == set(), "Claude Code does not know these models' prices: run them under their Claude Code ids"


def test_usage_json_gives_claude_codes_own_dollars_per_model(tree: Tree, tmp_path: Path) -> None:
    report = usage_json(tree.home, tmp_path)
    assert (report["skipped_lines"], report["unknown_models"], report["warnings"]) == ({}, {}, [])
    assert report["transcripts"] == len(SESSIONS)
    expected = tree.claude_code_usd()
    assert differences(per_key(report), expected) == {}
    assert report["total_usd"] == pytest.approx(sum(expected.values()), abs=0.01 * len(report["days"]))


def with_novelties(text: str) -> str:
    """A transcript as a later Claude Code might write it: fields nobody has seen on each assistant line
    (top level, message, usage, and inside the usage's objects) and new line types after it, one with a
    top-level `usage` of its own (what it means is unknown: it is not a model call)."""
    out = []
    for line in text.splitlines():
        record = json.loads(line)
        if record.get("type") != "assistant":
            out.append(line)
            continue
        usage = record["message"]["usage"]
        record["futureField"] = {"nested": [1, {"deeper": None}], "text": "\u00e9t\u00e9"}
        record["message"]["future_message_field"] = [{"kind": "x"}]
        usage["future_tokens"] = 999_999
        usage["cache_creation"]["future_note"] = "n/a"
        usage["server_tool_use"]["future_requests"] = 3
        out.append(json.dumps(record, separators=(",", ":")))
        stamp, session = record["timestamp"], record["sessionId"]
        out.append(json.dumps({"type": "usage-snapshot", "timestamp": stamp, "sessionId": session,
                               "usage": {"input_tokens": 10**6, "output_tokens": 10**6},
                               "message": {"role": "system", "content": "a line type of a later version"}}))
        out.append(json.dumps({"type": "rate-note", "timestamp": stamp, "usage": "n/a", "sessionId": session}))
    return "\n".join(out) + "\n"


def test_a_new_line_type_or_field_counts_the_same(tree: Tree, tmp_path: Path) -> None:
    run = tree.runs[-1]  # three prompts, web searches in one
    (original,) = run.transcript_files()
    expected = {"claude-sonnet-5": run.cost_state.total_usd}
    reports = {}
    for name, text in {"as written": original.read_text(), "changed": with_novelties(original.read_text())}.items():
        root = tmp_path / name / "claude"
        copy = root / "projects" / "-home-me-work" / original.name
        copy.parent.mkdir(parents=True)
        copy.write_text(text)
        reports[name] = usage_json(tmp_path / name / "home", tmp_path / name, claude_config_dir=root)
    assert '"type": "usage-snapshot"' in copy.read_text() and '"futureField":' in copy.read_text()
    for report in reports.values():
        assert (report["transcripts"], report["skipped_lines"], report["warnings"]) == (1, {}, [])
        assert differences(per_key(report), expected) == {}
    assert reports["changed"]["days"] == reports["as written"]["days"]


def test_an_auto_compactions_summary_request_is_billed_but_in_no_transcript(tmp_path: Path) -> None:
    """Claude Code 2.1.332 compacts a session whose context is over the model's window before the next
    prompt: the summary request is in its own cost-state, but no transcript line holds its usage (only a
    `compact_boundary` line without one), so no reader of the logs can count it. Pinned here: when a
    later version writes it, this fails, and usage --json should then count it."""
    home = tmp_path / "home"
    summary = Usage(input_tokens=500_000, output_tokens=50_000)  # USD 1.50 at Sonnet 5's 2/10

    def compaction(request: Any) -> bool:
        messages = (request.body.get("messages") if isinstance(request.body, dict) else None) or [{}]
        return "CRITICAL: Respond with TEXT ONLY" in json.dumps(messages[-1])

    with FakeAnthropic() as api:
        claude = ClaudeCode(home, api)
        api.reply = Reply(usage=Usage(input_tokens=1_200_000, output_tokens=20_000))  # over the window
        first = claude.run(model="claude-sonnet-5")
        api.replies = lambda request: Reply(usage=summary, text="<summary>The user said hi.</summary>") \
            if compaction(request) else Reply(usage=MODEST)
        run = claude.run(model="claude-sonnet-5", session_id=first.session_id, resume=True)
    assert run.returncode == 0, run.stderr
    assert [compaction(request) for request in run.requests] == [True, False]
    assert [line.get("subtype") for line in run.lines("system")] == ["compact_boundary"]
    assert len(run.assistant_usages()) == 2  # the first prompt's and the second's: none for the summary
    report = usage_json(home, tmp_path / "reminderd")
    (got,) = per_key(report).values()
    summary_usd = (500_000 * 2 + 50_000 * 10) / 1e6
    assert run.cost_state.total_usd - got == pytest.approx(summary_usd, abs=0.01)
