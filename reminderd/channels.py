"""The channels a config asks for, built in one place (seams.Channel): adding a channel is a
module of its own and one line in build(). A channel that cannot be built is left out with one
line saying why; the others work."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from reminderd.settings import Config


class Built(NamedTuple):
    channels: list[Any]  # seams.Channel: the desktop first, so a slow push never delays it
    problems: list[str]  # one line for each channel that could not be built


def build(config: Config, state_path: Path, desktop: Callable[[], Any]) -> Built:
    """The channels of `config`; `desktop` makes the notifier of the desktop channel."""
    from reminderd.notify import DesktopChannel

    channels: list[Any] = [DesktopChannel(desktop)]
    problems: list[str] = []
    settings = config.notifications
    if settings.push or settings.push_command:
        from reminderd.push import build as push_channels

        pushes, trouble = push_channels(settings, channel_key(state_path))
        channels += pushes
        problems += trouble
    if config.ics_path is not None:
        from reminderd.ics import CalendarFile

        channels.append(CalendarFile(config.ics_path))
    if config.calendar is not None:
        from reminderd.caldav_channel import CalendarChannel

        channels.append(CalendarChannel(config.calendar))
    return Built(channels, problems)


def channel_key(state_path: Path) -> bytes:
    """This installation's secret for naming unnamed channels (push.channel_id), made once and
    kept in the state file (0600): a hash keyed with it tells nothing of the URL it names."""
    from reminderd.state import INSTALLATION_SECTION, read_state, update_state

    def key_in(state: Any) -> str | None:
        value = state.extra.get(INSTALLATION_SECTION, {}).get("channel_key")
        return value if isinstance(value, str) and len(value) == 64 else None

    found = key_in(read_state(state_path).state)
    if found is None:
        def create(state: Any) -> Any:  # under the lock: another writer may have made it meanwhile
            if key_in(state) is not None:
                return state
            return state.with_extra(INSTALLATION_SECTION, {**state.extra.get(INSTALLATION_SECTION, {}),
                                                           "channel_key": secrets.token_hex(32)})
        found = key_in(update_state(state_path, create))
    assert found is not None
    return bytes.fromhex(found)
