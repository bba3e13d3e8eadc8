"""The .ics export, read back by parsers and calendar programs we did not write."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import icalendar
import pytest
import vobject
from click.testing import Result
from conftest import LA, ROOT, assert_golden, make_config
from hypothesis import given
from hypothesis import strategies as st
from integration import require, require_env

from reminderd.ics import build_calendar, event_uid, events, fold
from reminderd.state import State
from reminderd.timeline import plan

EXAMPLE = str(ROOT / "config.example.toml")
NOW = datetime(2026, 3, 1, 17, 0, tzinfo=UTC)
Cli = Callable[..., Result]

CLAIMED = """
[[credit]]
id = "c"
plan = "pro"
subscribed_at = 2025-09-01
claimed_at = 2026-02-10T12:00:00
[credit.usage.per_day]
chat_rounds = 20
claude_code_sessions = 1
"""
UNCLAIMED = '[[credit]]\nid = "c"\nplan = "pro"\nsubscribed_at = 2025-09-01\n'


NAMESPACE = uuid.UUID("8d6f7b52-30a4-4c5e-9a51-7c3f1d2e9b60")  # one installation's, fixed for the tests


def uid(key: str) -> str:
    return event_uid(NAMESPACE, key)


def export(credit: str = CLAIMED, known: dict | None = None, now: datetime = NOW) -> tuple[bytes, dict]:  # type: ignore[type-arg]
    config = make_config(credit=credit)
    return build_calendar(plan(config, State(), now), known or {}, now, NAMESPACE)


def test_calendar_header_lines_and_folding() -> None:
    data, _ = export()
    assert data.startswith(b"BEGIN:VCALENDAR\r\n") and data.endswith(b"END:VCALENDAR\r\n")
    lines = data.split(b"\r\n")
    assert b"\n" not in b"".join(lines)  # every line ends in CRLF
    assert max(len(line) for line in lines) <= 75
    assert not any(line.startswith(b"METHOD") for line in lines)  # not an iTIP message (RFC 5546, RFC 4791)
    for wanted in (b"VERSION:2.0", b"NAME:reminderd: usage credit reminders",
                   b"X-WR-CALNAME:reminderd: usage credit reminders"):
        assert wanted in lines
    assert any(line.startswith(b"PRODID:-//reminderd//") for line in lines)
    assert b"VTIMEZONE" not in data and b"TZID" not in data  # everything in UTC


def test_absolute_triggers_say_value_date_time_in_utc() -> None:
    data, _ = export()
    triggers = [line for line in data.split(b"\r\n") if line.startswith(b"TRIGGER")]
    assert triggers and all(t.startswith(b"TRIGGER;VALUE=DATE-TIME:") and t.endswith(b"Z") for t in triggers)


def test_one_event_per_key_moment_with_alarms_at_the_lead_times() -> None:
    config = make_config(credit=CLAIMED)
    by_uid = {e.uid: e for e in events(plan(config, State(), NOW), NAMESPACE)}
    expiry = by_uid[uid("c/expiry")]
    expires = datetime(2026, 4, 11, 19, 0, tzinfo=UTC)  # 12:00 PDT
    assert expiry.start == expires
    assert [t for t, _ in expiry.alarms] == [
        datetime(2026, 4, 4, 19, 0, tzinfo=UTC), datetime(2026, 4, 10, 19, 0, tzinfo=UTC),
        datetime(2026, 4, 11, 17, 0, tzinfo=UTC), expires]
    assert set(by_uid) >= {uid("c/auto-reload"), uid("c/low-balance"), uid("c/exhaustion"),
                           uid("c/check-usage/1"), uid("c/check-usage/8")}
    exhaustion = by_uid[uid("c/exhaustion")].description
    assert "runs out between" in exhaustion and "Assumes spending USD 0.90-3.00 a day" in exhaustion
    for event in by_uid.values():
        assert "Settings > Usage" in event.description and " off" in event.description, event.uid


def test_claim_deadline_and_unused_credit_events() -> None:
    unclaimed = {e.uid: e for e in events(plan(make_config(credit=UNCLAIMED), State(), NOW), NAMESPACE)}
    deadline = unclaimed[uid("c/claim-deadline")]
    assert deadline.start.astimezone(UTC) == datetime(2026, 2, 17, 7, 59, 59, tzinfo=UTC)
    assert len(deadline.alarms) == 3
    slow = CLAIMED.replace("claude_code_sessions = 1", "").replace("chat_rounds = 20", "chat_rounds = 10")
    unused = {e.uid: e for e in events(plan(make_config(credit=slow), State(), NOW), NAMESPACE)}[uid("c/unused-credit")]
    assert unused.start == datetime(2026, 3, 28, 19, 0, tzinfo=UTC)  # 14 days before expiry
    assert "not refunded" in unused.description


def test_same_input_same_bytes_and_stable_uids() -> None:
    first, record = export()
    again, _ = export()
    assert first == again
    # exporting again with the record of the first export changes nothing either
    third, record3 = export(known=record)
    assert third == first and record3 == record


def test_reexport_after_claim_bumps_sequence_and_cancels_the_deadline() -> None:
    before, record = export(credit=UNCLAIMED)
    after, record2 = export(credit=CLAIMED, known=record)
    cal = vobject.readOne(after.decode())
    by_uid = {e.uid.value: e for e in cal.vevent_list}
    cancelled = by_uid[uid("c/claim-deadline")]
    assert cancelled.status.value == "CANCELLED" and cancelled.sequence.value == "1"
    assert by_uid[uid("c/expiry")].sequence.value == "0"
    # a balance observation moves the forecast: changed events get SEQUENCE 1, same UIDs
    config = make_config(credit=CLAIMED)
    from reminderd.forecast import Observation
    state = State().with_observation("c", Observation(datetime(2026, 2, 20, tzinfo=UTC), 45.0))
    moved, record3 = build_calendar(plan(config, state, NOW), record2, NOW, NAMESPACE)
    seqs = {e.uid.value: e.sequence.value for e in vobject.readOne(moved.decode()).vevent_list}
    assert set(seqs) >= set(record2) - {uid("c/low-balance"), uid("c/exhaustion")}
    assert seqs[uid("c/check-usage/3")] == "1"  # its expected balance changed
    assert seqs[uid("c/expiry")] == "0"  # untouched
    assert seqs[uid("c/claim-deadline")] == "1"  # still cancelled, not bumped again
    assert record3[uid("c/claim-deadline")]["cancelled"] is True


def test_vobject_reads_summer_times_right() -> None:
    data, _ = export()
    cal = vobject.readOne(data.decode())
    by_uid = {e.uid.value: e for e in cal.vevent_list}
    expiry = by_uid[uid("c/expiry")].dtstart.value.astimezone(LA)
    assert expiry.strftime("%Y-%m-%d %H:%M %Z") == "2026-04-11 12:00 PDT"
    checks = sorted(e.dtstart.value.astimezone(LA).strftime("%m-%d %H:%M %Z")
                    for e in by_uid.values() if e.summary.value.startswith("Check your"))
    assert checks[2:5] == ["03-03 10:00 PST", "03-10 10:00 PDT", "03-17 10:00 PDT"]
    alarm = by_uid[uid("c/expiry")].valarm_list[0]
    assert alarm.trigger.value == datetime(2026, 4, 4, 19, 0, tzinfo=UTC)


def test_icaljs_reads_it_like_thunderbird() -> None:
    node = require("node")
    module = require_env("ICALJS_MODULE", "ical.js's dist/ical.es5.cjs")
    data, _ = export()
    out = subprocess.run([node, str(ROOT / "tests/tools/icaljs_dump.cjs")], input=data, capture_output=True,
                         env={**os.environ, "ICALJS_MODULE": module}, check=True, timeout=30)
    parsed = json.loads(out.stdout)
    assert parsed["name"] == "reminderd: usage credit reminders"
    by_uid = {e["uid"]: e for e in parsed["events"]}
    expiry = by_uid[uid("c/expiry")]
    assert expiry["start"] == "2026-04-11T19:00:00.000Z"  # 12:00 PDT
    assert [a["type"] for a in expiry["alarms"]] == ["date-time"] * 4
    assert expiry["alarms"][0]["at"] == "2026-04-04T19:00:00.000Z"
    assert by_uid[uid("c/check-usage/4")]["start"] == "2026-03-10T17:00:00.000Z"  # 10:00 PDT


def test_golden() -> None:
    data, _ = export()
    assert_golden("calendar.ics", data.decode())


# -- the command ---------------------------------------------------------------------------


def test_export_to_stdout_and_file(cli: Cli, tmp_path: Path) -> None:
    result = cli("--config", EXAMPLE, "export-ics")
    assert result.exit_code == 0 and result.stdout.startswith("BEGIN:VCALENDAR")
    out = tmp_path / "r.ics"
    result = cli("--config", EXAMPLE, "export-ics", "-o", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    assert f"Wrote 12 live events to {out}." in result.stderr
    assert out.read_bytes().startswith(b"BEGIN:VCALENDAR\r\n")


def test_unwritable_output_is_one_line_and_leaves_nothing(cli: Cli, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    result = cli("--config", EXAMPLE, "export-ics", "-o", str(blocker / "r.ics"))
    assert result.exit_code == 73
    assert result.stderr == f"reminderd: {blocker}: is not a folder\n"
    assert blocker.read_text() == ""


def test_config_error_reported_as_in_status(cli: Cli, write_config: Callable[[str], Path]) -> None:
    path = write_config('timezone = "Nowhere/Land"\n[[credit]]\n')
    result = cli("--config", str(path), "export-ics")
    assert result.exit_code == 78 and "timezone: expected an IANA time zone name" in result.stderr


# -- real calendar programs ------------------------------------------------------------------


def _claim_then_export(cli: Cli, write_config: Callable[[str], Path], tmp_path: Path) -> tuple[Path, Path]:
    config = write_config(f'timezone = "America/Los_Angeles"\n{UNCLAIMED}'
                          "[credit.usage.per_day]\nchat_rounds = 20\nclaude_code_sessions = 1\n")
    first = tmp_path / "first.ics"
    assert cli("--config", str(config), "export-ics", "-o", str(first)).exit_code == 0
    assert cli("--config", str(config), "claim", "--at", "2026-02-10T12:00").exit_code == 0
    second = tmp_path / "second.ics"
    assert cli("--config", str(config), "export-ics", "-o", str(second)).exit_code == 0
    return first, second


def test_khal_imports_events_at_local_times_and_updates_on_reexport(
        cli: Cli, write_config: Callable[[str], Path], tmp_path: Path) -> None:
    khal = require("khal")
    first, second = _claim_then_export(cli, write_config, tmp_path)
    (tmp_path / "cal").mkdir()
    conf = tmp_path / "khal.conf"
    conf.write_text(
        f"[calendars]\n[[reminderd]]\npath = {tmp_path / 'cal'}/\ntype = calendar\n"
        "[locale]\ntimeformat = %H:%M\ndateformat = %Y-%m-%d\nlongdateformat = %Y-%m-%d\n"
        "datetimeformat = %Y-%m-%d %H:%M\nlongdatetimeformat = %Y-%m-%d %H:%M\n"
        "local_timezone = America/Los_Angeles\ndefault_timezone = America/Los_Angeles\n"
        f"[sqlite]\npath = {tmp_path / 'khal.db'}\n")
    env = {**os.environ, "TZ": "UTC", "HOME": str(tmp_path)}

    def khal_run(*args: str) -> str:
        return subprocess.run([khal, "-c", str(conf), *args], capture_output=True, text=True, env=env,
                              check=True, timeout=60).stdout

    khal_run("import", "--batch", "-a", "reminderd", str(first))
    khal_run("import", "--batch", "-a", "reminderd", str(second))
    listing = khal_run("list", "--format", "{start} {title}", "2026-02-01", "100d")
    assert "2026-04-11 12:00 Claude usage credit expired: turn usage credits off" in listing
    assert "2026-03-10 10:00 Check your Claude usage credit balance on the web" in listing  # PDT
    assert "2026-03-03 10:00 Check your Claude usage credit balance on the web" in listing  # PST
    assert "2026-02-10 12:00 Credit claimed: check that Auto-Reload is off" in listing
    # one file per UID: the second import replaced, not duplicated
    assert len(list((tmp_path / "cal").iterdir())) == len(set(
        e.uid.value for e in vobject.readOne(second.read_text()).vevent_list))
    assert listing.count("Claude usage credit expired") == 1


def test_calcurse_imports_events_at_local_times_with_alarms(
        cli: Cli, write_config: Callable[[str], Path], tmp_path: Path) -> None:
    calcurse = require("calcurse")
    _, second = _claim_then_export(cli, write_config, tmp_path)
    data_dir = tmp_path / "calcurse"
    env = {**os.environ, "TZ": "America/Los_Angeles", "HOME": str(tmp_path)}
    subprocess.run([calcurse, "-D", str(data_dir), "-i", str(second)], capture_output=True, env=env,
                   check=True, timeout=60)
    out = subprocess.run([calcurse, "-D", str(data_dir), "--input-datefmt", "4", "-Q", "--from", "2026-03-09",
                          "--days", "35", "--format-apt", "%S %m\n"],
                         capture_output=True, text=True, env=env, check=True, timeout=60).stdout
    assert "10:00 Check your Claude usage credit balance on the web" in out  # 2026-03-10, PDT
    assert "12:00 Claude usage credit expired: turn usage credits off" in out
    apts = (data_dir / "apts").read_text()
    assert "04/11/2026 @ 12:00" in apts
    expiry_line = next(line for line in apts.splitlines() if "expired" in line)
    assert " !Claude usage credit" in expiry_line  # "!" = calcurse's alarm flag from VALARM



def test_publish_does_not_render_when_nothing_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import reminderd.ics as ics

    config = make_config(credit=CLAIMED)
    state_path, live = tmp_path / "state.json", tmp_path / "live.ics"
    written: list[bytes] = []

    def write_live(data: bytes) -> None:
        written.append(data)
        live.write_bytes(data)

    assert ics.publish(config, state_path, NOW, write_live, destination=live) == (12, 0)
    rendered: list[int] = []
    real_render = ics.render
    monkeypatch.setattr(ics, "render", lambda *a: rendered.append(1) or real_render(*a))
    import reminderd.state as state_module

    reads: list[Path] = []
    real_read = state_module.read_state
    monkeypatch.setattr(state_module, "read_state", lambda path: reads.append(path) or real_read(path))
    assert ics.publish(config, state_path, NOW, write_live, destination=live) is None
    assert rendered == [] and len(written) == 1
    assert reads == [state_path]  # the idle daemon's check: one read of the state, one plan
    assert ics.publish(config, state_path, NOW, written.append) == (12, 0)  # export-ics always writes
    assert rendered == [1] and written[1] == written[0]


def test_live_calendar_follows_a_change_that_another_export_published_first(tmp_path: Path) -> None:
    # review M2: after `export-ics` recorded the new SEQUENCE, the daemon never rewrote ics_path
    import reminderd.ics as ics

    state_path, live = tmp_path / "state.json", tmp_path / "live.ics"
    before = make_config(credit=CLAIMED)
    after = make_config(credit=CLAIMED.replace("2026-02-10T12:00:00", "2026-02-05T12:00:00"))
    ics.publish(before, state_path, NOW, live.write_bytes, destination=live)
    ics.publish(after, state_path, NOW, lambda data: None)  # export-ics to stdout, after a claim change
    assert ics.publish(after, state_path, NOW, live.write_bytes, destination=live) == (12, 0)
    expiry = next(e for e in vobject.readOne(live.read_text()).vevent_list if "expired" in e.summary.value)
    assert expiry.dtstart.value == datetime(2026, 4, 6, 19, 0, tzinfo=UTC)  # 12:00 PDT, 60 days after 02-05
    assert ics.publish(after, state_path, NOW, live.write_bytes, destination=live) is None


# -- one calendar for many people and accounts (RFC 5545 3.8.4.7: globally unique UIDs) --------------


def test_two_installations_never_share_a_uid_and_one_always_writes_the_same(cli: Cli, tmp_path: Path) -> None:
    exports = {}
    for name in ("alice", "bob"):
        state = tmp_path / name
        for run in (1, 2):
            out = tmp_path / f"{name}-{run}.ics"
            assert cli("--config", EXAMPLE, "export-ics", "-o", str(out),
                       env={"REMINDERD_STATE_DIR": str(state)}).exit_code == 0
            exports[name, run] = {e.uid.value for e in vobject.readOne(out.read_text()).vevent_list}
    assert exports["alice", 1] == exports["alice", 2] and exports["bob", 1] == exports["bob", 2]
    assert not exports["alice", 1] & exports["bob", 1]
    assert all("/" not in uid for uids in exports.values() for uid in uids)  # safe as CalDAV resource names


def test_the_uids_of_earlier_versions_are_cancelled(cli: Cli, state_dir: Path, tmp_path: Path) -> None:
    old = "claude-feb-2026/expiry@reminderd"  # what version 1 wrote
    state_dir.mkdir()
    (state_dir / "state.json").write_text(json.dumps({"version": 2, "ics": {old: {
        "sequence": 0, "fingerprint": "x", "start": "2026-04-07T16:30:00+00:00",
        "summary": "Claude usage credit expired: turn usage credits off"}}}))
    out = tmp_path / "r.ics"
    assert cli("--config", EXAMPLE, "export-ics", "-o", str(out)).exit_code == 0
    by_uid = {e.uid.value: e for e in vobject.readOne(out.read_text()).vevent_list}
    assert by_uid[old].status.value == "CANCELLED" and by_uid[old].sequence.value == "1"
    assert sum(1 for e in by_uid.values() if e.summary.value == "Claude usage credit expired: turn usage credits off"
               and "status" not in e.contents) == 1  # the new event, once


def _libical(path: Path) -> dict:  # type: ignore[type-arg]
    python = require("python3-gi")  # Debian's python3 with gir1.2-ical-3.0, see .ci/run
    out = subprocess.run([python, str(ROOT / "tests/tools/libical_check.py"), str(path)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("config_text", ["example", "overage-two-accounts"])
def test_every_calendar_program_accepts_every_event(config_text: str, cli: Cli, write_config: Callable[[str], Path],
                                                    tmp_path: Path) -> None:
    from test_offers import OVERAGE

    config = EXAMPLE if config_text == "example" else str(write_config(OVERAGE))
    ics = tmp_path / "r.ics"
    assert cli("--config", config, "export-ics", "-o", str(ics)).exit_code == 0
    count = len(vobject.readOne(ics.read_text()).vevent_list)
    # libical (GNOME, Evolution): no restriction or parse error on any component
    assert _libical(ics) == {"events": count, "errors": []}
    # ical.js (Thunderbird)
    node, module = require("node"), require_env("ICALJS_MODULE", "ical.js's dist/ical.es5.cjs")
    parsed = json.loads(subprocess.run([node, str(ROOT / "tests/tools/icaljs_dump.cjs")], input=ics.read_bytes(),
                                       capture_output=True, env={**os.environ, "ICALJS_MODULE": module},
                                       check=True, timeout=30).stdout)
    assert len(parsed["events"]) == count
    # calcurse: nothing skipped
    report = subprocess.run([require("calcurse"), "-D", str(tmp_path / "calcurse"), "-i", str(ics)],
                            capture_output=True, text=True, env={**os.environ, "HOME": str(tmp_path)}, timeout=60)
    assert report.returncode == 0 and " 0 skipped" in report.stdout
    # khal: one file per event
    (tmp_path / "cal").mkdir()
    conf = tmp_path / "khal.conf"
    conf.write_text(f"[calendars]\n[[r]]\npath = {tmp_path / 'cal'}/\ntype = calendar\n"
                    "[locale]\nlocal_timezone = UTC\ndefault_timezone = UTC\n"
                    f"[sqlite]\npath = {tmp_path / 'khal.db'}\n")
    subprocess.run([require("khal"), "-c", str(conf), "import", "--batch", "-a", "r", str(ics)], check=True,
                   capture_output=True, env={**os.environ, "HOME": str(tmp_path)}, timeout=60)
    assert len(list((tmp_path / "cal").iterdir())) == count
    if config_text != "example":
        summaries = [e.summary.value for e in vobject.readOne(ics.read_text()).vevent_list]
        assert all(s.startswith(("home (me@home): ", "work (me@work): ")) for s in summaries)
        assert not any("Extra Usage" in s for s in summaries)


# -- folding: ours must be icalendar's, only faster --------------------------------------------

FOLDABLE = st.text(st.sampled_from("ab \\^;,:é€😀"), max_size=400) | st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=300)


@given(FOLDABLE)
def test_fold_is_icalendars_folding_and_keeps_lines_within_75_octets(line: str) -> None:
    from icalendar.parser import Contentline

    folded = fold(line)
    assert folded.replace("\r\n ", "") == line
    assert all(len(physical.encode()) <= 75 for physical in folded.split("\r\n"))
    if int(icalendar.__version__.split(".")[0]) >= 7:  # 7 introduced not folding after an escape
        assert folded.encode() == Contentline(line).to_ical()


def test_fold_never_splits_an_escape() -> None:
    line = "DESCRIPTION:" + "x" * 61 + "\\,more"  # the backslash is the 74th character
    assert fold(line) == "DESCRIPTION:" + "x" * 61 + "\r\n \\,more"


# -- nothing silently replaced (newuser 9) ----------------------------------------------------------


def test_dash_is_stdout_and_a_missing_folder_is_an_error_naming_it(cli: Cli, tmp_path: Path) -> None:
    result = cli("--config", EXAMPLE, "export-ics", "-o", "-")
    assert result.exit_code == 0 and result.stdout.startswith("BEGIN:VCALENDAR") and not Path("-").exists()
    missing = tmp_path / "nosuch" / "dir"
    result = cli("--config", EXAMPLE, "export-ics", "-o", str(missing / "x.ics"))
    assert result.exit_code == 73
    assert result.stderr == f"reminderd: {missing}: does not exist (export-ics creates no folders)\n"
    assert not (tmp_path / "nosuch").exists()


def test_after_done_the_expiry_stays_without_alarms_and_the_count_says_so(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "r.ics"
    assert cli("--config", EXAMPLE, "export-ics", "-o", str(out)).exit_code == 0
    assert cli("--config", EXAMPLE, "done", "extra-usage-off", "--at", "2026-03-01T08:00").exit_code == 0
    result = cli("--config", EXAMPLE, "export-ics", "-o", str(out))
    assert result.stderr == f"Wrote 1 live event and 11 cancelled to {out}.\n"  # it said "Wrote 0 events"
    calendar = vobject.readOne(out.read_text())
    live = [e for e in calendar.vevent_list if "status" not in e.contents]
    assert [(e.summary.value, e.dtstart.value) for e in live] == [
        ("Claude usage credit expires", datetime(2026, 4, 7, 16, 30, tzinfo=UTC))]
    assert "valarm" not in live[0].contents and "extra-usage-off" in live[0].description.value
    assert sum(1 for e in calendar.vevent_list if e.contents.get("status", [None])[0] is not None) == 11
