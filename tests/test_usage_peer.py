"""An independent reader agrees (issue 17 part 7): ccusage 20.0.24 (`ccusage daily --json
--offline`, a native build of another team's reader) and `reminderd usage --json` on the same
generated tree give the same dollars per local day and model, within a cent.

Only what both price is generated: the models of both tables (ccusage 20.0.24 has no row for
Opus 5.5, Sonnet 5.5, Haiku 5.5 or Fable 5.2, and prices web searches at nothing), fast mode
where both have it (Opus 4.6 to 5, 6x and 2x), and no count over 200k tokens (ccusage bills
Sonnet 4 and 4.5 above that at their long-context rates; Claude Code 2.1.332 does not). ccusage
names a model by its raw id with "-fast" added in fast mode; it groups days in the zone of
--timezone; it reads only $CLAUDE_CONFIG_DIR when it is set (and, with HOME pointed at an
empty folder, no other agent's logs).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from integration import require

from reminderd.prices import normalise_key

VERSION = "20.0.24"
ZONE = "America/Los_Angeles"
MODELS = ["claude-opus-4-20250514", "claude-opus-4-1", "claude-opus-4-5", "claude-opus-4-6", "claude-opus-4-7",
          "claude-opus-4-8", "claude-opus-5", "claude-sonnet-4", "claude-sonnet-4-5-20250929", "claude-sonnet-4-6",
          "claude-sonnet-5", "claude-haiku-4-5-20251001", "claude-fable-5", "claude-fable-5-1", "claude-mythos-5"]
FAST = {"claude-opus-4-6", "claude-opus-4-7", "claude-opus-4-8", "claude-opus-5"}


def ccusage() -> str:
    found = os.environ.get("CCUSAGE_BIN") or shutil.which("ccusage")
    if not found or not os.path.exists(found):
        found = require("ccusage")  # skips, or fails under REMINDERD_REQUIRE_INTEGRATION=1
    version = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=30).stdout
    if VERSION not in version:
        pytest.fail(f"expected ccusage {VERSION} (.ci/run installs it), got {version.strip()!r}")
    return found


def generate(root: Path, seed: int = 20260205) -> None:
    """Sessions over ten days around a DST change, with streaming partials, resumed sessions
    that repeat earlier responses, sidechains, 5-minute and 1-hour cache writes."""
    rng = random.Random(seed)
    written: list[bytes] = []
    for session in range(12):
        lines = []
        for turn in range(rng.randint(10, 30)):
            model = rng.choice(MODELS)
            stamp = f"2026-03-{rng.randint(5, 14):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:07.123Z"
            write, one_hour = rng.randint(0, 150_000), rng.random() < 0.3
            usage = {"input_tokens": rng.randint(1, 150_000), "output_tokens": rng.randint(1, 150_000),
                     "cache_creation_input_tokens": write, "cache_read_input_tokens": rng.randint(0, 190_000),
                     "cache_creation": {"ephemeral_5m_input_tokens": 0 if one_hour else write,
                                        "ephemeral_1h_input_tokens": write if one_hour else 0},
                     "service_tier": "standard",
                     "speed": "fast" if model in FAST and rng.random() < 0.3 else "standard"}
            record = {"type": "assistant", "timestamp": stamp, "sessionId": f"s{session}",
                      "isSidechain": rng.random() < 0.1, "requestId": f"req_{session}_{turn}",
                      "message": {"id": f"msg_{session}_{turn}", "model": model, "role": "assistant",
                                  "content": [{"type": "text", "text": "ok " * rng.randint(1, 50)}], "usage": usage}}
            if rng.random() < 0.3:  # a streaming partial first
                partial = json.loads(json.dumps(record))
                partial["message"]["usage"]["output_tokens"] = 1
                lines.append(json.dumps(partial, separators=(",", ":")).encode())
            lines.append(json.dumps(record, separators=(",", ":")).encode())
            lines.append(json.dumps({"type": "user", "timestamp": stamp, "message": {
                "role": "user", "content": "x " * rng.randint(1, 200)}}, separators=(",", ":")).encode())
        if session % 4 == 3:  # a resumed session starts with an earlier one's lines
            lines = written[: rng.randint(5, 20)] + lines
        written = lines
        folder = root / "projects" / f"-home-me-project-{session % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"s{session}.jsonl" if session % 5 else f"s{session - 1}/subagents/agent-{session}.jsonl"
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"\n".join(lines) + b"\n")


def per_day_and_model(days: list[dict], name: str, cost: str, models: str) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for day in days:
        breakdown = day[models]
        for entry in (breakdown if isinstance(breakdown, list) else [{name: k, cost: v} for k, v in breakdown.items()]):
            key = (day["period" if "period" in day else "date"], normalise_key(entry[name]))
            out[key] = out.get(key, 0.0) + entry[cost]
    return {key: value for key, value in out.items() if round(value, 2)}


def test_ccusage_and_reminderd_agree_per_day_and_model(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    from freezegun import freeze_time

    program = ccusage()
    home = tmp_path / "home"
    generate(home / ".claude")
    env = {"HOME": str(home), "CLAUDE_CONFIG_DIR": str(home / ".claude"), "XDG_CONFIG_HOME": str(home / ".config"),
           "PATH": os.environ.get("PATH", ""), "TZ": "UTC", "NO_COLOR": "1"}
    theirs = json.loads(subprocess.run([program, "daily", "--json", "--offline", "--timezone", ZONE], env=env,
                                       capture_output=True, text=True, check=True, timeout=60).stdout)
    config = tmp_path / "config.toml"
    config.write_text(f'timezone = "{ZONE}"\n[[credit]]\nid = "c"\nplan = "pro"\n[credit.usage]\n'
                      "claude_code_logs = true\n")  # no claude_code_dirs: $CLAUDE_CONFIG_DIR, as Claude Code reads it
    with freeze_time("2026-03-20T12:00:00Z"):
        result = cli("--config", str(config), "usage", "--json", "--since", "2026-03-01", env=env)
    ours = json.loads(result.stdout)
    assert ours["transcripts"] == 12 and not ours["skipped_lines"] and not ours["unknown_models"]
    expected = per_day_and_model(theirs["daily"], "modelName", "cost", "modelBreakdowns")
    got = per_day_and_model(ours["days"], "model", "usd", "by_model")
    assert len(expected) > 50 and {key for key in expected if "@fast" in key[1]}
    assert got.keys() == expected.keys()
    assert {key: (got[key], round(expected[key], 4)) for key in got if abs(got[key] - expected[key]) > 0.01} == {}
