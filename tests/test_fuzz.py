"""Bad input never gives a traceback: generated and mutated configs and state files through
`status`, `status --json` and `export-ics`.

Every run exits with a documented code, and every line on stderr is a one-line message:
"reminderd: FILE: KEY: ..." for an error, "warning: ..." for a warning.
At least 500 configs and 200 state files per CI run (see the counts in each test's settings).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import ZONES

from reminderd.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = (ROOT / "reminderd" / "config.example.toml").read_bytes()
DOCUMENTED = {0, 2, 73, 74, 78}  # README "Exit codes" (69 is notify-test's only)
COMMANDS = (["status"], ["status", "--json"], ["export-ics"])


def fuzz(cases: int) -> settings:
    """`cases` in CI; ten times as many with HYPOTHESIS_PROFILE=thorough."""
    return settings(max_examples=cases * settings.default.max_examples // 300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])


def run_all(config: bytes, state: bytes | None, tmp: Path) -> None:
    config_path, state_dir = tmp / "config.toml", tmp / "state"
    config_path.write_bytes(config)
    state_dir.mkdir(exist_ok=True)
    state_file = state_dir / "state.json"
    for args in COMMANDS:
        if state is None:
            state_file.unlink(missing_ok=True)
        else:
            state_file.write_bytes(state)
        result = CliRunner().invoke(main, ["--config", str(config_path), *args, *(["--at", "2026-03-01T09:00"]
                                                                                   if args[0] == "status" else [])],
                                    env={"REMINDERD_STATE_DIR": str(state_dir), "TZ": "UTC"}, catch_exceptions=True)
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"{args}: {type(result.exception).__name__}: {result.exception}")
        assert result.exit_code in DOCUMENTED, (args, result.exit_code, result.stderr)
        for line in result.stderr.splitlines():
            assert "Traceback" not in line
            assert line.startswith(("reminderd: ", "warning: ")), (args, line)
            if result.exit_code == 78 and line.startswith("reminderd: "):
                assert line.startswith(f"reminderd: {config_path}: "), line  # names the file, then the key
            if result.exit_code == 74 and line.startswith("reminderd: "):
                assert str(state_file) in line, line


# -- configs generated from the schema -----------------------------------------------------------

SCALARS = st.one_of(
    st.integers(-10**12, 10**12).map(str), st.floats(allow_nan=True, allow_infinity=True).map(
        lambda f: "nan" if f != f else ("inf" if f == float("inf") else ("-inf" if f == float("-inf") else repr(f)))),
    st.booleans().map(lambda b: "true" if b else "false"),
    st.text(max_size=12).map(json.dumps),
    st.sampled_from(["2026-02-06T09:30:00", "2026-02-06", "0001-01-01T00:00:00", "9999-12-31T23:59:59",
                     "2026-02-06T09:30:00+05:45", "1970-01-01T00:00:00Z", "2199-12-31T23:59:59", "23:59:00",
                     '"22:00"', '"24:00"', '""', '"7d"', '["7d", "0m"]', '["99999999999d"]', "[]", "{}",
                     '["1d12h", "2h"]', '"America/Los_Angeles"', '"Nowhere/City"', '"JST-9"', "1e-300", "1e308",
                     '["Overage", "Auto top-up"]', '"Overage"', '["Extra Usage", "extra usage"]', '["a\\nb"]',
                     '["json://127.0.0.1:9/"]', '"https://dav.example.com/cal/"']),
    st.sampled_from(ZONES).map(json.dumps),
)

CREDIT_KEYS = ("id", "offer", "plan", "subscribed_at", "claimed_at", "auto_reload")
USAGE_KEYS = ("daily_spend_usd", "uncertainty")
REMINDER_KEYS = ("claim_deadline", "expiry", "low_balance_usd", "unused_credit", "unused_min_usd",
                 "usage_check_every_days", "usage_check_time")
OFFER_KEYS = ("name", "amount_usd", "eligible_plans", "subscribed_by", "claim_opens", "claim_closes",
              "validity_days", "timezone", "switch_location", "switches", "top_up_switch", "caveats",
              "credit_name", "how_to_claim", "billed_at", "product", "source")


# a command given as one string is split like a shell's: quotes, backslashes and spaces
COMMAND_LINES = st.one_of(SCALARS, st.text(alphabet="ab '\"\\", max_size=8).map(json.dumps))


@st.composite
def table(draw: st.DrawFn, keys: tuple[str, ...]) -> str:
    chosen = draw(st.lists(st.sampled_from(keys + ("unknown_key",)), unique=True, max_size=len(keys)))
    return "".join(f"{key} = {draw(COMMAND_LINES if key.endswith('_command') else SCALARS)}\n" for key in chosen)


@st.composite
def configs(draw: st.DrawFn) -> bytes:
    parts = []
    if draw(st.booleans()):
        parts.append(f"timezone = {draw(SCALARS)}\n")
    if draw(st.booleans()):
        parts.append(f"ics_path = {draw(SCALARS)}\n")
    for _ in range(draw(st.integers(0, 2))):
        parts.append("[[credit]]\n" + draw(table(CREDIT_KEYS)))
        if draw(st.booleans()):
            parts.append("[credit.usage]\n" + draw(table(USAGE_KEYS)))
            if draw(st.booleans()):
                parts.append("[credit.usage.per_day]\n" + draw(table(("chat_rounds", "code_tasks", "nonsense"))))
        if draw(st.booleans()):
            parts.append('[credit.prices."opus-4.6"]\n' + draw(table(("input", "output"))))
    if draw(st.booleans()):
        parts.append("[reminders]\n" + draw(table(REMINDER_KEYS)))
    if draw(st.booleans()):
        parts.append("[quiet_hours]\n" + draw(table(("start", "end"))))
    if draw(st.booleans()):
        parts.append("[notifications]\n" + draw(table(("backend", "command", "push", "push_command"))))
    if draw(st.booleans()):
        parts.append("[calendar]\n" + draw(table(("caldav_url", "username", "password_command"))))
    if draw(st.booleans()):
        parts.append("[offers.acme]\n" + draw(table(OFFER_KEYS)))
    return "".join(parts).encode("utf-8", "surrogatepass")


@fuzz(300)
@given(configs())
def test_generated_configs(tmp_path_factory: object, config: bytes) -> None:
    run_all(config, None, _fresh(tmp_path_factory))


# -- byte-level mutations ------------------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        how = draw(st.sampled_from(["flip", "delete", "insert", "duplicate", "truncate"]))
        if how == "flip":
            data[at] = draw(st.integers(0, 255))
        elif how == "delete":
            del data[at:at + draw(st.integers(1, 40))]
        elif how == "insert":
            data[at:at] = draw(st.sampled_from([b"[", b"]", b"{", b"=", b"\"", b"\n", b"\xff", b"-", b"9" * 30,
                                                b"[" * 5000, b"0001-01-01T00:00:00", b"\\u0000", b"nan"]))
        elif how == "duplicate":
            end = min(len(data), at + draw(st.integers(1, 200)))
            data[at:at] = data[at:end]
        else:
            del data[at:]
    return bytes(data)


@fuzz(250)
@given(mutated(EXAMPLE))
def test_mutations_of_the_example_config(tmp_path_factory: object, config: bytes) -> None:
    run_all(config, None, _fresh(tmp_path_factory))


VALID_STATE = json.dumps({
    "version": 2,
    "delivered": {"claude-feb-2026/expiry/-7d": [{"due": "2026-03-31T16:30:00+00:00",
                                                  "event_at": "2026-04-07T16:30:00+00:00",
                                                  "at": "2026-03-31T16:30:02+00:00"}],
                  "claude-feb-2026/auto-reload/after-claim": [{"due": "2026-02-06T17:30:00+00:00", "event_at": None,
                                                               "at": "2026-02-06T17:30:01+00:00"}]},
    "acknowledged": {"claude-feb-2026": {"auto-reload-off": "2026-02-06T18:00:00+00:00"}},
    "observations": {"claude-feb-2026": [{"at": "2026-02-16T20:00:00-08:00", "remaining_usd": 31.4},
                                         {"at": "2026-02-20T09:00:00-08:00", "remaining_usd": 25.0}]},
    "ics": {"claude-feb-2026/expiry@reminderd": {"sequence": 1, "fingerprint": "abc", "summary": "s",
                                                 "start": "2026-04-07T16:30:00+00:00"}},
    "service": {"/home/you/.config/systemd/user/reminderd.service": "0" * 64},
}, indent=1).encode()

JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                       max_size=3), max_leaves=8)


@st.composite
def states(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        return draw(mutated(VALID_STATE))
    document = json.loads(VALID_STATE)  # a structural mutation: one value replaced by anything
    path = draw(st.sampled_from([("version",), ("delivered",), ("delivered", "claude-feb-2026/expiry/-7d"),
                                 ("acknowledged", "claude-feb-2026"), ("observations", "claude-feb-2026"),
                                 ("ics",), ("ics", "claude-feb-2026/expiry@reminderd"), ("service",)]))
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = draw(JSON_VALUES)
    return json.dumps(document).encode()


@fuzz(220)
@given(states())
def test_damaged_state_files(tmp_path_factory: object, state: bytes) -> None:
    run_all(EXAMPLE, state, _fresh(tmp_path_factory))


_COUNTER = iter(range(10**9))


def _fresh(factory: object) -> Path:
    return factory.mktemp(f"fuzz{next(_COUNTER)}", numbered=False)  # type: ignore[attr-defined, no-any-return]


def test_the_example_itself_runs_clean(tmp_path: Path) -> None:
    run_all(EXAMPLE, VALID_STATE, tmp_path)
    assert re.search(rb"claimed_at = 2026-02-06T09:30:00", EXAMPLE)
