"""The state file: atomic, private, locked, and never lost to corruption."""

from __future__ import annotations

import json
import multiprocessing
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reminderd.errors import StateError
from reminderd.forecast import Observation
from reminderd.state import Delivery, State, parse_state, read_state, save_state, to_json, update_state

T = datetime(2026, 2, 10, 20, 0, tzinfo=UTC)


def test_round_trip_keeps_everything(tmp_path: Path) -> None:
    state = (State().with_observation("c", Observation(T, 40.0))
             .with_acknowledged("c", "extra-usage-off", T)
             .with_delivered("c/expiry/-7d", Delivery(T, T + timedelta(days=7), T))
             .with_delivered("c/expiry/-7d", Delivery(T, T + timedelta(days=7), T, "push:0123456789ab"))
             .with_extra("ics", {"uid": {"sequence": 2, "fingerprint": "f", "start": T.isoformat(),
                                         "summary": "s"}}))
    path = tmp_path / "state.json"
    save_state(path, state)
    assert read_state(path).state == state
    assert parse_state(json.dumps(to_json(state)), "s").state == state


def test_written_private_and_without_temp_files_left(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "state.json"
    save_state(path, State())
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]


def test_missing_is_empty(tmp_path: Path) -> None:
    assert read_state(tmp_path / "none.json").state == State()


def test_a_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.json"
    save_state(path, State().with_observation("c", Observation(T, 1.0)))

    def disk_full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(StateError, match="No space left"):
        save_state(path, State())
    assert json.loads(path.read_text())["observations"]["c"][0]["remaining_usd"] == 1.0
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # the temp file is cleaned up


def test_unwritable_state_dir_is_a_state_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StateError, match="cannot"):
        save_state(blocker / "state.json", State())


def _add_observations(path: str, worker: int) -> None:
    for i in range(20):
        update_state(Path(path), lambda s, i=i: s.with_observation(
            f"w{worker}", Observation(T + timedelta(minutes=i), float(i))))


def test_concurrent_updates_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_add_observations, args=(str(path), w)) for w in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    state = read_state(path).state
    assert {k: len(v) for k, v in state.observations.items()} == {"w0": 20, "w1": 20, "w2": 20}


# -- damaged, older and newer state files ----------------------------------------------------------

V2_DELIVERY = {"due": "2026-03-31T16:30:00+00:00", "event_at": "2026-04-07T16:30:00+00:00",
               "at": "2026-03-31T16:30:02+00:00"}


def test_a_damaged_entry_costs_only_itself(tmp_path: Path) -> None:
    # faults file: one bad reading made the whole file move aside, with 2 deliveries and 1 acknowledgement
    path = tmp_path / "state.json"
    path.write_text(json.dumps({
        "version": 2, "delivered": {"c/expiry/-7d": [V2_DELIVERY], "c/expiry/-1d": [V2_DELIVERY]},
        "acknowledged": {"c": {"auto-reload-off": "2026-02-06T18:00:00+00:00"}},
        "observations": {"c": [{"at": "2026-02-16T20:00:00-08:00", "remaining_usd": "abc"},
                               {"at": "2026-02-17T20:00:00-08:00", "remaining_usd": 30}]}}))
    loaded = read_state(path)
    assert set(loaded.state.delivered) == {"c/expiry/-7d", "c/expiry/-1d"}
    assert "auto-reload-off" in loaded.state.acknowledged["c"]
    assert [o.remaining_usd for o in loaded.state.observations["c"]] == [30.0]
    assert loaded.damaged == ("observations.c[0]: expected a number of USD from 0 to 1,000,000",)
    assert loaded.summary() == "kept 2 deliveries, 1 acknowledgements, 1 balance readings"
    reports: list[str] = []
    update_state(path, lambda s: s, report=reports.append)  # a writer repairs, keeping a copy first
    [copy] = tmp_path.glob("state.json.damaged-*")
    assert '"abc"' in copy.read_text() and "copied to state.json.damaged-" in reports[0]
    assert read_state(path).damaged == () and len(read_state(path).state.delivered) == 2


def test_bytes_that_are_not_text_or_json_lose_nothing_they_did_not_hold(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    for data in (b"\xff", b"[" * 100_000, b'{"version": 1, "ics": 5}', b'"just a string"'):
        path.write_bytes(data)
        loaded = read_state(path)
        assert loaded.damaged and loaded.state.delivered == {}
        assert path.read_bytes() == data  # reading never changes the file


def test_a_newer_format_is_refused_and_left_alone(tmp_path: Path) -> None:
    # review m4: another version was "corrupt" and moved aside even by `status`
    path = tmp_path / "state.json"
    text = json.dumps({"version": 3, "delivered": {}})
    path.write_text(text)
    with pytest.raises(StateError, match="written by a newer reminderd"):
        read_state(path)
    with pytest.raises(StateError):
        update_state(path, lambda s: s)
    assert path.read_text() == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.lock"]  # nothing moved


def test_format_1_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"version": 1, "delivered": {
        "c/expiry/-7d@2026-03-31T16:30:00+00:00": "2026-03-31T16:30:02+00:00"}}))
    [record] = read_state(path).state.delivered["c/expiry/-7d"]
    assert record.event_at is None and record.due == datetime(2026, 3, 31, 16, 30, tzinfo=UTC)
    update_state(path, lambda s: s)
    assert json.loads(path.read_text())["version"] == 2


def test_writes_follow_a_symlink(tmp_path: Path) -> None:
    # review m9: a dotfile manager's link was replaced by a copy, and the real file never changed
    real = tmp_path / "dotfiles" / "state.json"
    real.parent.mkdir()
    link = tmp_path / "state.json"
    link.symlink_to(real)
    save_state(link, State().with_observation("c", Observation(T, 5.0)))
    assert link.is_symlink() and read_state(real).state.observations["c"][0].remaining_usd == 5.0
