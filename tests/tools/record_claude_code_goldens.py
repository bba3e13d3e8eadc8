"""Record what Claude Code itself writes and sends, for the reader's and the hook's tests.

    python tests/tools/record_claude_code_goldens.py

writes, from real runs against tests/tools/fake_anthropic.py:
- tests/golden/claude_code_2.1.332.jsonl: one session of three `claude -p` turns (the 2nd and 3rd with
  --resume): Opus 5.5 in fast mode with every token kind, a SessionStart hook's systemMessage; Haiku 5.5 with a
  150k-token prompt (its dearer tier); and a subscription whose 5-hour limit is reached (HTTP 429: the
  synthetic "You've hit your 5-hour limit" line). Flags keep it small (no tools, a one-line system prompt,
  no prompt snapshot), so the big `prompt_snapshot` attachments of a default run are not in it.
- tests/golden/claude_code_hook_input.json: the SessionStart hook's stdin at startup (and
  claude_code_hook_input_resume.json: at the --resume, with more fields).
- tests/golden/claude_code_statusline_input.json: an interactive session's status-line stdin after one
  answer, logged in with a (fake) subscription token, the fake API reporting the 5-hour limit at 100 %.
The throwaway HOME is written as /home/user in all three.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from claude_code import VERSION, ClaudeCode  # noqa: E402
from tools.fake_anthropic import FakeAnthropic, Reply, Usage  # noqa: E402

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
SMALL = ("--tools=", "--system-prompt", "You are a test.", "--system-prompt-snapshot", "off",
         "--disable-slash-commands")
HOOK_MESSAGE = "Your Claude credit expires tomorrow and usage credits are on."


def limit_headers(utilization: str, status: str) -> dict[str, str]:
    """`anthropic-ratelimit-unified-*` headers with the 5-hour limit at `utilization` (0..1)."""
    now = int(time.time())
    return {"anthropic-ratelimit-unified-status": status, "anthropic-ratelimit-unified-reset": str(now + 3600),
            "anthropic-ratelimit-unified-representative-claim": "five_hour",
            "anthropic-ratelimit-unified-5h-utilization": utilization,
            "anthropic-ratelimit-unified-5h-reset": str(now + 3600), "anthropic-ratelimit-unified-5h-status": status,
            "anthropic-ratelimit-unified-7d-utilization": "0.42",
            "anthropic-ratelimit-unified-7d-reset": str(now + 4 * 86400),
            "anthropic-ratelimit-unified-7d-status": "allowed"}


def anonymise(text: str, home: Path) -> str:
    project = re.sub(r"[^A-Za-z0-9]", "-", str(home))
    return text.replace(str(home), "/home/user").replace(project, "-home-user")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="claude-golden-") as tmp, FakeAnthropic() as api:
        home = Path(tmp)
        claude = ClaudeCode(home, api)
        hook = home / "hook.sh"
        hook.write_text(f'#!/bin/sh\ncat > "{home}/hook-input-$(date +%s%N).json"\n'
                        f"echo '{json.dumps({'systemMessage': HOOK_MESSAGE})}'\n")
        hook.chmod(0o755)
        claude.write_settings({"hooks": {"SessionStart": [{"hooks": [{"type": "command", "command": str(hook)}]}]}})

        api.reply = Reply(usage=Usage(input_tokens=3, output_tokens=120, cache_read_input_tokens=18_000,
                                      ephemeral_5m_input_tokens=2_000, ephemeral_1h_input_tokens=500))
        first = claude.run(*SMALL, model="claude-opus-5-5", fast=True, prompt="hi")
        api.reply = Reply(usage=Usage(input_tokens=150_000, output_tokens=40))
        second = claude.run(*SMALL, model="claude-haiku-5-5", prompt="and again", session_id=first.session_id,
                            resume=True)
        api.reply = Reply(status=429, headers=limit_headers("1.0", "rejected"))
        subscriber = ClaudeCode(home, api, subscription=True)
        third = subscriber.run(*SMALL, model="claude-opus-5-5", prompt="one more", session_id=first.session_id,
                               resume=True)
        for run in (first, second):
            assert run.returncode == 0, run.stderr
        assert third.returncode == 1 and third.lines("assistant")[-1].get("isApiErrorMessage"), third.stderr
        (transcript,) = first.transcript_files()
        (GOLDEN / f"claude_code_{VERSION}.jsonl").write_text(anonymise(transcript.read_text(), home))
        startup, resume, _ = (json.loads(path.read_text()) for path in sorted(home.glob("hook-input-*.json")))
        assert (startup["source"], resume["source"]) == ("startup", "resume")
        for name, value in (("claude_code_hook_input.json", startup), ("claude_code_hook_input_resume.json", resume)):
            (GOLDEN / name).write_text(anonymise(json.dumps(value, indent=1), home) + "\n")

        api.reply = Reply(headers=limit_headers("1.0", "allowed"))
        inputs = ClaudeCode(home / "interactive", api, subscription=True).statusline_inputs(model="claude-opus-5-5")
        assert "rate_limits" in inputs[-1], inputs[-1]
        (GOLDEN / "claude_code_statusline_input.json").write_text(
            anonymise(json.dumps(inputs[-1], indent=1), home / "interactive") + "\n")
    print(f"wrote {GOLDEN}/claude_code_{VERSION}.jsonl, claude_code_hook_input.json, "
          "claude_code_hook_input_resume.json, claude_code_statusline_input.json")


if __name__ == "__main__":
    main()
