"""Claude Code 2.1.332 itself, run against the fake API (tests/claude_code.py): the harness works, and the
goldens measured from it (prices, transcript, hook and status-line inputs) still describe what it does."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from claude_code import VERSION, ClaudeCode
from tools.fake_anthropic import FakeAnthropic, Reply, Usage

GOLDEN = Path(__file__).resolve().parent / "golden"
PRICES = json.loads((GOLDEN / "claude_code_prices.json").read_text())["models"]
MESSAGE = "Your Claude credit expires tomorrow and usage credits are on."


@pytest.fixture
def api() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
def claude(tmp_path: Path, api: FakeAnthropic) -> ClaudeCode:
    return ClaudeCode(tmp_path / "home", api)


def listed_usd(usage: dict[str, Any], row: dict[str, Any]) -> float:
    """A response's cost by the measured table: Haiku 5.5's tier by the prompt (input, cache reads and
    writes), fast mode's own prices when the row has them."""
    prompt = usage["input_tokens"] + usage["cache_read_input_tokens"] + usage["cache_creation_input_tokens"]
    tier = row.get("long_prompt")
    if tier is not None and prompt > tier["above_prompt_tokens"]:
        row = tier
    fast = "fast_" if usage.get("speed") == "fast" and row["fast_input"] is not None else ""
    split = usage["cache_creation"]
    return float(usage["input_tokens"] * row[f"{fast}input"] + usage["output_tokens"] * row[f"{fast}output"]
            + usage["cache_read_input_tokens"] * row[f"{fast}cache_read"]
            + split["ephemeral_5m_input_tokens"] * row[f"{fast}cache_write_5m"]
            + split["ephemeral_1h_input_tokens"] * row[f"{fast}cache_write_1h"]) / 1e6


def test_a_run_writes_a_transcript_with_the_fake_apis_usage(claude: ClaudeCode, api: FakeAnthropic) -> None:
    api.reply = Reply(usage=Usage(input_tokens=11, output_tokens=22, cache_read_input_tokens=33,
                                  ephemeral_5m_input_tokens=44, ephemeral_1h_input_tokens=55))
    run = claude.run(model="claude-sonnet-5")
    assert run.returncode == 0, run.stderr
    assert [(r.method, r.path) for r in run.requests] == [("POST", "/v1/messages?beta=true")]  # nothing else asked
    assert "x-api-key" not in run.requests[0].headers
    (line,) = run.lines("assistant")
    usage = line["message"]["usage"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["cache_read_input_tokens"],
            usage["cache_creation_input_tokens"], usage["speed"]) == (11, 22, 33, 99, "standard")
    assert usage["cache_creation"] == {"ephemeral_5m_input_tokens": 44, "ephemeral_1h_input_tokens": 55}
    assert (line["message"]["model"], line["requestedModel"], line["version"], line["entrypoint"]) == \
        ("claude-sonnet-5", "claude-sonnet-5", VERSION, "sdk-cli")
    assert line["requestId"].startswith("req_fake") and line["message"]["id"].startswith("msg_fake")


@pytest.mark.parametrize(("model", "fast", "usage"), [
    ("claude-opus-4-6", False, Usage(input_tokens=1_000, output_tokens=2_000, cache_read_input_tokens=30_000,
                                     ephemeral_5m_input_tokens=4_000, ephemeral_1h_input_tokens=5_000)),
    ("claude-opus-5-5", True, Usage(input_tokens=1_000, output_tokens=2_000, cache_read_input_tokens=30_000,
                                    ephemeral_5m_input_tokens=4_000, ephemeral_1h_input_tokens=5_000)),
    ("claude-haiku-5-5", False, Usage(input_tokens=100_001, output_tokens=2_000)),  # the dearer tier
], ids=["opus-4-6", "opus-5-5-fast", "haiku-5-5-long"])
def test_claude_codes_own_cost_is_the_measured_price(claude: ClaudeCode, api: FakeAnthropic, model: str,
                                                     fast: bool, usage: Usage) -> None:
    api.reply = Reply(usage=usage)
    run = claude.run(model=model, fast=fast)
    assert run.returncode == 0, run.stderr
    (written,) = run.assistant_usages()
    assert written["speed"] == ("fast" if fast else "standard")
    state = run.cost_state
    assert list(state.models) == [model] and not state.has_unknown_model_cost
    assert state.models[model].cost_usd == pytest.approx(listed_usd(written, PRICES[model]), rel=1e-12)
    assert state.total_usd == state.models[model].cost_usd


def test_an_unknown_model_costs_opus_5_5_and_is_flagged(claude: ClaudeCode, api: FakeAnthropic) -> None:
    api.reply = Reply(usage=Usage(input_tokens=1_000_000, output_tokens=0))
    state = claude.run(model="claude-opus-9").cost_state
    assert state.has_unknown_model_cost
    assert state.models["claude-opus-9"].cost_usd == pytest.approx(PRICES["claude-opus-5-5"]["input"])


def test_the_session_start_hook_runs_and_its_system_message_is_recorded(claude: ClaudeCode) -> None:
    seen = claude.home / "hook-input.json"
    hook = claude.home / "hook.sh"
    hook.write_text(f"#!/bin/sh\ncat > '{seen}'\necho '{json.dumps({'systemMessage': MESSAGE})}'\n")
    hook.chmod(0o755)
    claude.write_settings({"hooks": {"SessionStart": [{"hooks": [{"type": "command", "command": str(hook)}]}]}})
    run = claude.run(stream_json=True)
    assert run.returncode == 0, run.stderr
    (transcript,) = run.transcript_files()
    assert json.loads(seen.read_text()) == {"session_id": run.session_id, "transcript_path": str(transcript),
                                            "cwd": str(claude.cwd), "hook_event_name": "SessionStart",
                                            "source": "startup"}
    assert set(json.loads(seen.read_text())) == set(json.loads((GOLDEN / "claude_code_hook_input.json").read_text()))
    recorded = [line["attachment"]["content"] for line in run.lines("attachment")
                if line["attachment"]["type"] == "hook_system_message"]
    assert recorded == [MESSAGE]
    (response,) = [event for event in run.stream_json() if event.get("subtype") == "hook_response"]
    assert (json.loads(response["stdout"]), response["exit_code"]) == ({"systemMessage": MESSAGE}, 0)
    assert MESSAGE not in json.dumps(run.requests[-1].body)  # shown to the person, not sent to the model


def test_the_status_line_gets_the_fake_apis_five_hour_limit(tmp_path: Path, api: FakeAnthropic) -> None:
    resets = int(time.time()) + 3600
    api.reply = Reply(headers={"anthropic-ratelimit-unified-status": "allowed",
                               "anthropic-ratelimit-unified-5h-utilization": "1.0",
                               "anthropic-ratelimit-unified-5h-reset": str(resets)})
    inputs = ClaudeCode(tmp_path / "home", api, subscription=True).statusline_inputs(model="claude-opus-5-5")
    assert inputs[-1]["rate_limits"] == {"five_hour": {"used_percentage": 100, "resets_at": resets}}
    assert inputs[-1]["model"] == {"id": "claude-opus-5-5", "display_name": "Opus 5.5"}
    golden = json.loads((GOLDEN / "claude_code_statusline_input.json").read_text())
    assert set(inputs[-1]) == set(golden)


def test_the_golden_transcripts_cost_state_is_the_measured_prices() -> None:
    """No binary needed: the recorded session's own total against the price table, line by line."""
    lines = [json.loads(text) for text in (GOLDEN / f"claude_code_{VERSION}.jsonl").read_text().splitlines()]
    priced = [line["message"] for line in lines if line["type"] == "assistant" and not line.get("isApiErrorMessage")]
    total = sum(listed_usd(message["usage"], PRICES[message["model"]]) for message in priced)
    assert {message["usage"]["speed"] for message in priced} == {"fast", "standard"}
    assert lines[-1]["type"] == "cost-state" and lines[-1]["totalCostUSD"] == pytest.approx(total, rel=1e-12)


def test_the_fake_api_answers_plain_json_counts_tokens_and_keeps_no_key(api: FakeAnthropic) -> None:
    api.reply = Reply(usage=Usage(input_tokens=7), model="claude-haiku-4-5", text="plain")

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(api.url + path, json.dumps(body).encode(),
                                         {"x-api-key": "secret", "content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    message = post("/v1/messages", {"model": "claude-opus-5-5", "stream": False, "messages": []})
    assert (message["model"], message["content"][0]["text"], message["usage"]["input_tokens"]) == \
        ("claude-haiku-4-5", "plain", 7)
    assert post("/v1/messages/count_tokens", {"messages": []})["input_tokens"] >= 0
    with pytest.raises(urllib.error.HTTPError) as missing:
        post("/v1/models", {})
    missing.value.close()
    assert missing.value.code == 404
    assert [r.path for r in api.requests] == ["/v1/messages", "/v1/messages/count_tokens", "/v1/models"]
    assert all("x-api-key" not in r.headers and "secret" not in json.dumps(r.headers) for r in api.requests)
