"""What the sources learned, as values plan() reads: the usage ledgers of Claude Code's logs,
and what the status line saw of the plan's quota. Sources (ledger.py, the Claude Code hook)
write them; plan() never reads a file or the network itself."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from reminderd.quota import QuotaSample
from reminderd.spend import LoggedUsage


class Facts(NamedTuple):
    usage: Mapping[str, LoggedUsage] = MappingProxyType({})  # credit id -> its ledger, for those that read the logs
    quota: tuple[QuotaSample, ...] = ()  # oldest first
