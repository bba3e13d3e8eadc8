"""Claude Code itself, run against the fake Anthropic API (tools/fake_anthropic.py): it writes real
transcripts, its own `cost-state` figures, and runs real hooks. Nothing leaves the machine: the
environment is built from scratch (no inherited ANTHROPIC_* or CLAUDE_* variable), with a throwaway
HOME and every non-essential traffic switch off.

    with FakeAnthropic() as api:
        claude = ClaudeCode(tmp_path, api)
        run = claude.run(model="claude-opus-4-6")
        run.cost_state.models["claude-opus-4-6"].cost_usd

Facts about 2.1.332 that these helpers rely on (measured, see tests/golden/claude_code_prices.json):
`claude -p` sends one `POST /v1/messages?beta=true` per prompt and nothing else; fast mode in `-p` is
`--settings '{"fastMode": true}'` (a `fastMode` in settings.json is ignored there: "Fast mode is not
available in the Agent SDK"); the cost is computed from the response's `usage` (`usage.speed == "fast"`
prices fast mode) at the price of the model Claude Code asked for (the fake echoes it, as the real API does).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tools.fake_anthropic import FakeAnthropic

from reminderd.bounded import kill_group

VERSION = "2.1.332"  # the version the goldens were measured with
DEFAULT_BIN = "/work/npm/node_modules/.bin/claude"
API_KEY = "sk-ant-fake-key-for-tests"
OAUTH_TOKEN = "sk-ant-oat01-fake-token-for-tests"
PR_SET_PDEATHSIG = 1


def _missing(message: str) -> None:
    if os.environ.get("REMINDERD_REQUIRE_INTEGRATION") == "1":
        pytest.fail(message)
    pytest.skip(message)


@functools.cache
def _version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60,
                         env={"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent", "DISABLE_AUTOUPDATER": "1"})
    return out.stdout.split(" ")[0].strip()


def claude_binary() -> str:
    """$CLAUDE_CODE_BIN, else the project's npm install, else `claude` on PATH; of version VERSION.
    Missing: skip, or fail under REMINDERD_REQUIRE_INTEGRATION=1 (like integration.require)."""
    binary = os.environ.get("CLAUDE_CODE_BIN") or (DEFAULT_BIN if os.path.exists(DEFAULT_BIN) else None) \
        or shutil.which("claude")
    if binary is None or not os.path.exists(binary):
        _missing(f"Claude Code is not installed (npm @anthropic-ai/claude-code@{VERSION}; or set $CLAUDE_CODE_BIN)")
        raise AssertionError("unreachable")
    version = _version(binary)
    if version != VERSION:
        _missing(f"{binary} is Claude Code {version!r}; these tests were measured against {VERSION}")
    return binary


@dataclass(frozen=True)
class ModelCost:
    """One model's entry in a cost-state line's `modelUsage`."""

    cost_usd: float
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    ephemeral_5m_input_tokens: int
    ephemeral_1h_input_tokens: int

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> ModelCost:
        return cls(raw["costUSD"], raw["inputTokens"], raw["outputTokens"], raw["cacheReadInputTokens"],
                   raw["cacheCreationInputTokens"], raw.get("cacheCreationEphemeral5mInputTokens", 0),
                   raw.get("cacheCreationEphemeral1hInputTokens", 0))


@dataclass(frozen=True)
class CostState:
    """A `{"type": "cost-state", ...}` line: Claude Code's own running cost of the session."""

    total_usd: float
    models: dict[str, ModelCost]
    has_unknown_model_cost: bool
    raw: dict[str, Any]

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> CostState:
        return cls(raw["totalCostUSD"], {name: ModelCost.parse(usage) for name, usage in raw["modelUsage"].items()},
                   bool(raw.get("hasUnknownModelCost", False)), raw)


@dataclass
class Run:
    """One finished `claude` process and what it left in its HOME."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    home: Path
    session_id: str
    requests: list[Any] = field(default_factory=list)  # the fake API's records of this run's requests

    def transcript_files(self) -> list[Path]:
        """The session's transcript and its subagents' (`<session>/subagents/*.jsonl`)."""
        projects = self.home / ".claude" / "projects"
        return sorted([*projects.glob(f"*/{self.session_id}.jsonl"), *projects.glob(f"*/{self.session_id}/**/*.jsonl")])

    def lines(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The transcript's lines (JSON objects), of one `type` when given."""
        found = []
        for path in self.transcript_files():
            for text in path.read_text().splitlines():
                line = json.loads(text)
                if kind is None or line.get("type") == kind:
                    found.append(line)
        return found

    def assistant_usages(self) -> list[dict[str, Any]]:
        return [line["message"]["usage"] for line in self.lines("assistant") if "usage" in line.get("message", {})]

    @property
    def cost_state(self) -> CostState:
        """The session's last cost-state line (Claude Code keeps the last one)."""
        states = self.lines("cost-state")
        assert states, f"no cost-state line in {self.transcript_files()} (exit {self.returncode}: {self.stderr!r})"
        return CostState.parse(states[-1])

    def stream_json(self) -> list[dict[str, Any]]:
        """stdout of `--output-format stream-json --verbose`, one event per line."""
        return [json.loads(text) for text in self.stdout.splitlines() if text.strip()]


class ClaudeCode:
    """Runs `claude` with `home` as HOME (and its `work/` as the project directory) against `api`.
    `subscription` logs in with a fake Claude subscription token (CLAUDE_CODE_OAUTH_TOKEN) instead of an
    API key: only then does Claude Code read the fake API's `anthropic-ratelimit-unified-*` headers
    (into stream-json `rate_limit_event`s, the status line's `rate_limits`, and 429 "limit reached" lines)."""

    def __init__(self, home: Path, api: FakeAnthropic, env: dict[str, str] | None = None,
                 subscription: bool = False) -> None:
        self.binary = claude_binary()
        self.home = home
        self.api = api
        self.cwd = home / "work"
        self.cwd.mkdir(parents=True, exist_ok=True)
        (home / ".claude").mkdir(exist_ok=True)
        (home / "tmp").mkdir(exist_ok=True)  # TMPDIR: its sockets and probe folders stay out of /tmp
        self.extra_env = env or {}
        self.subscription = subscription
        self.pane = ""  # the tmux pane's text, when statusline_inputs was asked to wait for it

    @property
    def settings_path(self) -> Path:
        return self.home / ".claude" / "settings.json"

    def write_settings(self, settings: dict[str, Any]) -> None:
        """The user's settings file, ~/.claude/settings.json (hooks, statusLine, ...)."""
        self.settings_path.write_text(json.dumps(settings, indent=2))

    def env(self) -> dict[str, str]:
        login = {"CLAUDE_CODE_OAUTH_TOKEN": OAUTH_TOKEN} if self.subscription else {"ANTHROPIC_API_KEY": API_KEY}
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home), "LANG": "C.UTF-8",
                "TERM": "dumb", "TMPDIR": str(self.home / "tmp"), "ANTHROPIC_BASE_URL": self.api.url, **login,
                "DISABLE_TELEMETRY": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                "DISABLE_AUTOUPDATER": "1", "DISABLE_ERROR_REPORTING": "1", **self.extra_env}

    def run(self, *extra: str, model: str = "claude-opus-4-6", prompt: str = "hi", fast: bool = False,
            stream_json: bool = False, settings: dict[str, Any] | None = None, timeout: float = 60,
            session_id: str | None = None, resume: bool = False) -> Run:
        """`claude -p --model MODEL PROMPT`. `fast` turns fast mode on the way `-p` honours it (flag
        settings); `settings` are more flag settings; `stream_json` adds `--output-format stream-json
        --verbose`; `resume` continues the session `session_id` (its transcript grows, its cost-state adds up)."""
        session_id = session_id or str(uuid.uuid4())
        flag_settings = {**(settings or {}), **({"fastMode": True} if fast else {})}
        args: list[str] = ["-p", "--model", model, "--resume" if resume else "--session-id", session_id, *extra]
        if flag_settings:
            args += ["--settings", json.dumps(flag_settings)]
        if stream_json:
            args += ["--output-format", "stream-json", "--verbose"]
        args.append(prompt)
        before = len(self.api.requests)
        start = time.monotonic()
        process = subprocess.Popen([self.binary, *args], cwd=self.cwd, env=self.env(), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True, preexec_fn=_die_with_parent)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(process)
            stdout, stderr = process.communicate()
            raise AssertionError(f"claude {args} did not finish in {timeout} s: {stderr!r}") from None
        finally:
            kill_group(process)  # and whatever it left running (a hook)
        return Run(args, process.returncode, stdout, stderr, time.monotonic() - start, self.home, session_id,
                   self.api.requests[before:])

    def statusline_inputs(self, *, model: str = "claude-opus-5-5", prompt: str = "hi", timeout: float = 40,
                          command: str | None = None, pane_shows: str | None = None) -> list[dict[str, Any]]:
        """What an interactive `claude` gives its status-line command on stdin, in order: it runs under a
        private tmux server, the prompt is typed once, and it returns after the first answer's status line
        (about 1.5 s). `rate_limits` is there only with `subscription`. `command` (a shell command) then
        gets each input and prints the line; with `pane_shows`, it returns once the pane shows that text
        (the pane's text is in `self.pane`)."""
        tmux = shutil.which("tmux")
        if tmux is None:
            _missing("tmux is not installed (.ci/run installs it)")
            raise AssertionError("unreachable")
        inbox = self.home / "statusline-inputs"
        inbox.mkdir(exist_ok=True)
        script = self.home / "statusline.sh"
        line = 'exec sh -c "$2" < "$f.json"' if command else 'echo "test status line"'
        script.write_text(f'#!/bin/sh\nf="$1/$(date +%s%N)"\ncat > "$f.part" && mv "$f.part" "$f.json"\n{line}\n')
        script.chmod(0o755)
        settings = json.loads(self.settings_path.read_text()) if self.settings_path.exists() else {}
        run = " ".join(shlex.quote(str(word)) for word in (script, inbox, *([command] if command else [])))
        self.write_settings(settings | {"statusLine": {"type": "command", "padding": 0, "command": run}})
        env = self.env() | {"TERM": "xterm-256color"}
        # onboarding done, this folder trusted, the API key approved: no dialog before the prompt
        (self.home / ".claude.json").write_text(json.dumps({
            "hasCompletedOnboarding": True, "projects": {str(self.cwd): {"hasTrustDialogAccepted": True}},
            "customApiKeyResponses": {"approved": [API_KEY[-20:]], "rejected": []}}))
        # `timeout` ends claude, and with it the tmux server, even if this test process dies
        shell = (f"cd {shlex.quote(str(self.cwd))} && exec env -i "
                   + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
                   + f" timeout -k 5 {int(timeout)} {shlex.quote(self.binary)} --model {shlex.quote(model)}")
        socket = ["-S", str(self.home / "tmux.sock")]
        subprocess.run([tmux, *socket, "new-session", "-d", "-x", "160", "-y", "40", shell], check=True)

        def inputs() -> list[dict[str, Any]]:
            found = []
            for path in sorted(inbox.glob("*.json")):
                with contextlib.suppress(ValueError):  # still being written: next time round
                    found.append(json.loads(path.read_text()))
            return found

        def answered() -> bool:
            return any(i.get("context_window", {}).get("total_output_tokens") for i in inputs())

        try:
            _wait(lambda: inputs(), timeout, "the first status line")
            subprocess.run([tmux, *socket, "send-keys", "-t", "0", "-l", prompt], check=True)
            subprocess.run([tmux, *socket, "send-keys", "-t", "0", "Enter"], check=True)
            _wait(answered, timeout, "a status line after the answer")
            if pane_shows is not None:
                def shows() -> bool:
                    self.pane = subprocess.run([tmux, *socket, "capture-pane", "-p", "-t", "0"], capture_output=True,
                                               text=True).stdout
                    return pane_shows in self.pane

                _wait(shows, timeout, f"{pane_shows!r} in the pane")
        finally:
            subprocess.run([tmux, *socket, "kill-server"], capture_output=True)
        return inputs()


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL when the test process dies, so no claude outlives a killed test."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
