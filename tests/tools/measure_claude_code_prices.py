"""Measure what Claude Code charges, per model and token kind, by running it against the fake API.

    python tests/tools/measure_claude_code_prices.py > tests/golden/claude_code_prices.json

One `claude -p` run per (model, token kind): the fake API answers with Q tokens of that kind only, and the
price is the run's cost-state `costUSD` x 1e6 / Q. Fast mode: the same with `--settings {"fastMode": true}`
and the response's `usage.speed` forced to "fast" (what a transcript line of fast mode says). Haiku 5.5 is
measured at a 50k and a 200k-token prompt (the output price at each tier: with that many input tokens, minus
their measured cost). Takes about two minutes.
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from claude_code import VERSION, ClaudeCode  # noqa: E402
from tools.fake_anthropic import FakeAnthropic, Reply, Usage  # noqa: E402

MODELS = ["claude-opus-4", "claude-opus-4-0", "claude-opus-4-1", "claude-opus-4-5", "claude-opus-4-6",
          "claude-opus-4-7", "claude-opus-4-8", "claude-opus-5", "claude-opus-5-5", "claude-sonnet-4",
          "claude-sonnet-4-0",
          "claude-sonnet-4-5", "claude-sonnet-4-6", "claude-sonnet-5", "claude-sonnet-5-5", "claude-haiku-4-5",
          "claude-haiku-5-5", "claude-fable-5", "claude-fable-5-1", "claude-fable-5-2", "claude-mythos-5",
          "claude-mythos-5-1", "claude-mythos-5-2", "claude-3-5-haiku", "claude-3-7-sonnet"]
SPELLINGS = ["claude-sonnet-5-5-20260928", "claude-opus-4-6-20260205", "claude-opus-4-6[1m]", "claude-opus-5-5[1m]",
             "us.anthropic.claude-opus-4-6", "anthropic/claude-4.6-opus"]
UNKNOWN = ["claude-opus-9", "claude-opus-5-6", "gpt-5"]
KINDS = {"input": "input_tokens", "output": "output_tokens", "cache_read": "cache_read_input_tokens",
         "cache_write_5m": "ephemeral_5m_input_tokens", "cache_write_1h": "ephemeral_1h_input_tokens"}
MILLION = 1_000_000
# Claude Code maps these to claude-opus-5-5 unless CLAUDE_CODE_DISABLE_LEGACY_MODEL_REMAP=1 (2.1.332).
ENV = {"CLAUDE_CODE_DISABLE_LEGACY_MODEL_REMAP": "1"}


def number(value: float, digits: int = 6) -> float | int:
    rounded = round(value, digits)
    return int(rounded) if rounded == int(rounded) else rounded


class Meter:
    def __init__(self, claude: ClaudeCode, api: FakeAnthropic) -> None:
        self.claude, self.api = claude, api
        self.runs = 0
        self.seconds = 0.0

    def cost(self, model: str, usage: Usage, *, fast: bool = False) -> tuple[float, bool, dict[str, Any]]:
        """(costUSD, hasUnknownModelCost, the run's facts) for one response with this usage."""
        self.api.reply = Reply(usage=usage, speed="fast" if fast else "standard")
        run = self.claude.run(model=model, fast=fast)
        self.runs += 1
        self.seconds += run.seconds
        if run.returncode != 0:
            raise RuntimeError(f"claude exited {run.returncode} for {model}: {run.stderr}")
        state = run.cost_state
        (entry,) = state.models.values()
        facts = {"sent_model": run.requests[-1].body["model"], "cost_state_key": next(iter(state.models)),
                 "asked_fast": run.requests[-1].body.get("speed") == "fast", "stderr": run.stderr.strip()}
        return entry.cost_usd, state.has_unknown_model_cost, facts

    def price(self, model: str, kind: str, quantity: int = MILLION, *, fast: bool = False,
              prompt: int = 0) -> tuple[float | int, bool, dict[str, Any]]:
        """USD per million tokens of `kind`; `prompt` input tokens are added (and their cost taken off)
        to put the output price in a prompt-size tier."""
        tokens = {KINDS[kind]: quantity}
        base = 0.0
        if prompt:
            tokens["input_tokens"] = tokens.get("input_tokens", 0) + prompt
            base = self.cost(model, Usage(input_tokens=prompt, output_tokens=0), fast=fast)[0]
        usage = Usage(input_tokens=tokens.get("input_tokens", 0), output_tokens=tokens.get("output_tokens", 0),
                      cache_read_input_tokens=tokens.get("cache_read_input_tokens", 0),
                      ephemeral_5m_input_tokens=tokens.get("ephemeral_5m_input_tokens", 0),
                      ephemeral_1h_input_tokens=tokens.get("ephemeral_1h_input_tokens", 0))
        usd, unknown, facts = self.cost(model, usage, fast=fast)
        return number((usd - base) * MILLION / quantity), unknown, facts


def row(meter: Meter, model: str, quantity: int = MILLION, prompt: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    unknown = False
    for kind in KINDS:
        q = MILLION if kind == "output" else quantity
        out[kind], flag, facts = meter.price(model, kind, q, prompt=prompt if kind == "output" else 0)
        unknown |= flag
    fast: dict[str, Any] = {}
    for kind in KINDS:
        q = MILLION if kind == "output" else quantity
        fast[kind], flag, fast_facts = meter.price(model, kind, q, fast=True, prompt=prompt if kind == "output" else 0)
        unknown |= flag
    has_fast = fast != {k: out[k] for k in KINDS}
    out["fast_input"] = fast["input"] if has_fast else None
    out["fast_output"] = fast["output"] if has_fast else None
    if has_fast:
        out.update({f"fast_{k}": fast[k] for k in ("cache_read", "cache_write_5m", "cache_write_1h")})
    out["claude_code_asks_fast"] = fast_facts["asked_fast"]
    if unknown:
        out["has_unknown_model_cost"] = True
    if facts["cost_state_key"] != model or facts["sent_model"] != model:
        out["sent_as"], out["cost_state_key"] = facts["sent_model"], facts["cost_state_key"]
    return out


def haiku_boundary(meter: Meter) -> dict[str, Any]:
    """Which tier Haiku 5.5 prices a prompt of a given make-up in: the input price per million."""
    cases = {"input 100000": Usage(input_tokens=100_000, output_tokens=0),
             "input 100001": Usage(input_tokens=100_001, output_tokens=0),
             "input 40000 + cache read 30000 + 5m write 20000 + 1h write 10000 (= 100000)":
                 Usage(input_tokens=40_000, output_tokens=0, cache_read_input_tokens=30_000,
                       ephemeral_5m_input_tokens=20_000, ephemeral_1h_input_tokens=10_000),
             "input 40001 + cache read 30000 + 5m write 20000 + 1h write 10000 (= 100001)":
                 Usage(input_tokens=40_001, output_tokens=0, cache_read_input_tokens=30_000,
                       ephemeral_5m_input_tokens=20_000, ephemeral_1h_input_tokens=10_000),
             "input 1 + cache read 100000": Usage(input_tokens=1, output_tokens=0, cache_read_input_tokens=100_000),
             "input 100000 + output 1000000": Usage(input_tokens=100_000, output_tokens=MILLION)}
    return {name: number(meter.cost("claude-haiku-5-5", usage)[0], 9) for name, usage in cases.items()}


def oddities(meter: Meter) -> dict[str, Any]:
    """Usage shapes a reader meets: US-only inference, an unknown speed, per-iteration usage."""
    found: dict[str, Any] = {}
    usd, unknown, _ = meter.cost("claude-opus-5-5", Usage(input_tokens=MILLION, output_tokens=0,
                                                          extra={"inference_geo": "us"}))
    found["opus-5-5, 1M input, usage.inference_geo 'us'"] = {"costUSD": number(usd), "unknown": unknown}
    meter.api.reply = Reply(usage=Usage(input_tokens=MILLION, output_tokens=0), speed="turbo")
    run = meter.claude.run(model="claude-opus-5-5")
    found["opus-5-5, 1M input, usage.speed 'turbo'"] = {"costUSD": number(run.cost_state.total_usd),
                                                         "unknown": run.cost_state.has_unknown_model_cost,
                                                         "transcript_speed": run.assistant_usages()[-1].get("speed")}
    meter.api.reply = Reply(usage=Usage(input_tokens=MILLION, output_tokens=0), speed="")
    run = meter.claude.run(model="claude-opus-5-5")
    found["opus-5-5, 1M input, no usage.speed"] = {"costUSD": number(run.cost_state.total_usd),
                                                    "transcript_speed": run.assistant_usages()[-1].get("speed")}
    iterations = [{"type": "message", "input_tokens": 60_000, "output_tokens": 0, "cache_read_input_tokens": 0,
                   "cache_creation_input_tokens": 0}] * 2
    usd, _, _ = meter.cost("claude-haiku-5-5", Usage(input_tokens=120_000, output_tokens=0,
                                                     extra={"iterations": iterations}))
    found["haiku-5-5, 120k input as two iterations of 60k"] = {"costUSD": number(usd)}
    meter.api.reply = Reply(usage=Usage(input_tokens=MILLION, output_tokens=0), model="claude-haiku-4-5")
    run = meter.claude.run(model="claude-opus-5-5")
    found["requested opus-5-5, response names haiku-4-5, 1M input"] = {
        "costUSD": number(run.cost_state.total_usd), "cost_state_keys": list(run.cost_state.models),
        "message.model": run.lines("assistant")[-1]["message"]["model"]}
    return found


def main() -> None:
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="claude-prices-") as home, FakeAnthropic() as api:
        meter = Meter(ClaudeCode(Path(home), api, env=ENV), api)
        models: dict[str, Any] = {}
        for model in MODELS:
            if model == "claude-haiku-5-5":  # tiered: below
                continue
            models[model] = row(meter, model)
            print(model, models[model], file=sys.stderr)
        models["claude-haiku-5-5"] = row(meter, "claude-haiku-5-5", quantity=50_000, prompt=50_000)
        models["claude-haiku-5-5"]["long_prompt"] = {"above_prompt_tokens": 100_000,
                                                     **row(meter, "claude-haiku-5-5", 200_000, 200_000)}
        spellings = {model: row(meter, model) for model in SPELLINGS}
        unknown = {model: row(meter, model) for model in UNKNOWN}
        boundary = haiku_boundary(meter)
        odd = oddities(meter)
        remapped = {}
        for model in ("claude-opus-4", "claude-opus-4-0", "claude-opus-4-1", "claude-opus-4-20250514",
                      "claude-opus-4-1-20250805", "claude-sonnet-4", "claude-sonnet-4-0", "claude-opus-4-5"):
            probe = ClaudeCode(Path(home), api)
            api.reply = Reply()
            run = probe.run(model=model)
            remapped[model] = run.requests[-1].body["model"]
    print(json.dumps({
        "note": f"USD per million tokens as Claude Code {VERSION} computes them (its cost-state lines), measured "
                f"{started:%Y-%m-%d} by tests/tools/measure_claude_code_prices.py: one `claude -p` run per model and "
                "token kind against tests/tools/fake_anthropic.py, whose response reported 1,000,000 tokens of that "
                "kind only (Haiku 5.5: 50,000 and 200,000 prompt tokens, output with that many input tokens and "
                "their cost taken off); fast_*: the same with --settings {\"fastMode\": true} and usage.speed "
                "\"fast\" in the response; null where a fast response costs the standard price. Run with "
                "CLAUDE_CODE_DISABLE_LEGACY_MODEL_REMAP=1 so that remapped ids are priced as themselves. "
                "Extra keys: fast_cache_* (fast mode's cache prices), claude_code_asks_fast (whether `claude -p` "
                "with fast mode on sends speed fast for this model), sent_as / cost_state_key (the model id Claude "
                "Code sent and keyed its cost-state under, when not the one asked for), has_unknown_model_cost, "
                "long_prompt (Haiku 5.5's dearer tier, for prompts of more than above_prompt_tokens).",
        "claude_code_version": VERSION,
        "taken_on": f"{started:%Y-%m-%d}",
        "models": models,
        "other_spellings": spellings,
        "unknown_models": unknown,
        "haiku_5_5_boundary_costUSD": boundary,
        "usage_oddities": odd,
        "remapped_by_default": remapped,
        "runs": meter.runs,
        "seconds_per_run": round(meter.seconds / meter.runs, 3),
    }, indent=1))


if __name__ == "__main__":
    main()
