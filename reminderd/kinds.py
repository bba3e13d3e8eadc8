"""What each kind of reminder is to the channels that carry it, declared in one table.

- `asks_off`: the reminder asks to turn a switch off, so a notification offers "I turned it
  off" (which records it); an informational one offers "Open Settings" and "Remind me later".
- `urgent`: the labels of the kind that are a last warning (critical urgency, shown until
  dismissed); every other reminder is normal and expires as the desktop's notifications do.

A new kind of reminder needs its line here and nothing else; one missing from the table is
informational and normal (never a button that silences what it did not ask for).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from reminderd.reminder import Reminder

EVERY = frozenset({"*"})  # `urgent` for a kind whose every reminder is a last warning


class Kind(NamedTuple):
    asks_off: bool = False
    urgent: frozenset[str] = frozenset()

    def is_urgent(self, label: str) -> bool:
        return label in self.urgent or "*" in self.urgent


KINDS: dict[str, Kind] = {
    "claim-deadline": Kind(),  # claim before the window closes
    "check-usage": Kind(),  # the weekly "check your balance on the web"
    "unused-credit": Kind(),  # credit left at expiry: use it
    "auto-reload": Kind(asks_off=True),  # right after the claim: the top-up switch
    "low-balance": Kind(asks_off=True),
    "exhaustion": Kind(asks_off=True, urgent=frozenset({"at"})),  # may be spent: the card pays next
    "expiry": Kind(asks_off=True, urgent=frozenset({"at"})),  # leads, and expired: the card pays next
    "logged-spend": Kind(asks_off=True, urgent=EVERY),  # the logs could have spent it all: the card may pay
    "balance-drop": Kind(),  # the balance fell more than use explains: look at the account
    "card-paying": Kind(asks_off=True, urgent=EVERY),  # gone, and usage credits still on: the card pays
}


def kind_of(reminder: Reminder) -> Kind:
    return KINDS.get(reminder.kind, Kind())


def is_urgent(reminder: Reminder) -> bool:
    """Whether `reminder` is a last warning (its id is "CREDIT/KIND/LABEL")."""
    return kind_of(reminder).is_urgent(reminder.id.rsplit("/", 1)[-1])
