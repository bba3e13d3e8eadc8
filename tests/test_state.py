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
