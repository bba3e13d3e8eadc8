"""The sources a config asks for, built in one place (seams.Source): adding a source is a module
of its own and one line in build()."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from reminderd.settings import Config


class LedgerSource:
    """Claude Code's transcripts, read into each credit's usage ledger (ledger.py), so their counts
    outlive Claude Code's 30-day cleanup: facts.Facts.usage."""

    name = "Claude Code's logs"
    field = "usage"
    EVERY = timedelta(minutes=12)

    def __init__(self) -> None:
        self.every = self.EVERY

    def refresh(self, config: Config, state_dir: Path, now: datetime, deadline: float) -> Any:
        from reminderd.ledger import current

        ledgers = current(config, state_dir, now, deadline=deadline)  # past it, the rest waits
        # a first scan of a large tree goes on at the next pass of the sources job, not in 12 minutes
        self.every = timedelta(0) if any(ledger.pending for ledger in ledgers.values()) else self.EVERY
        return ledgers


def build(config: Config) -> list[Any]:
    """The sources of `config`, each refreshed in the daemon's sources job."""
    from reminderd.quota_record import QuotaSource

    sources: list[Any] = [QuotaSource()]  # what Claude Code's status line saw of the plan's quota
    if any(credit.usage.claude_code_logs for credit in config.credits):
        sources.append(LedgerSource())
    if config.account is not None:
        from reminderd.account import AccountSource

        sources.append(AccountSource(config.account))
    return sources
