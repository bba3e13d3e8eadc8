"""Snoozes ("Remind me in 1 hour"), in the state's "snoozed" section: reminder id -> {"until":
ISO time}. Pure: what the state says, and the state with one more or one less."""

from __future__ import annotations

from datetime import datetime, timedelta

from reminderd.record import SNOOZED_SECTION, State

SNOOZE_FOR = timedelta(hours=1)


def snoozes(state: State) -> dict[str, datetime]:
    return {rid: datetime.fromisoformat(entry["until"]) for rid, entry in state.extra.get(SNOOZED_SECTION, {}).items()}


def with_snooze(state: State, reminder_id: str, until: datetime) -> State:
    section = {**state.extra.get(SNOOZED_SECTION, {}), reminder_id: {"until": until.isoformat()}}
    return state.with_extra(SNOOZED_SECTION, section)


def without_snooze(state: State, reminder_id: str) -> State:
    section = {k: v for k, v in state.extra.get(SNOOZED_SECTION, {}).items() if k != reminder_id}
    return state.with_extra(SNOOZED_SECTION, section)
