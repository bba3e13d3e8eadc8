"""The config's tables for what reminderd reaches out to: [notifications] (the desktop and push
channels), [calendar] (CalDAV), [account], and [quiet_hours]. Only shapes are checked here: the
channel that uses a value reads it when it is built, so parsing needs no optional library."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reminderd.config_values import ID_PATTERN, ValueReader
from reminderd.settings import AccountSettings, CalendarSettings, Notifications, PushTarget, QuietHours
from reminderd.urls import describe, is_one_url

NOTIFIER_BACKENDS = ("auto", "dbus", "notify-send", "osascript", "plyer", "log", "command")


class EdgeReader(ValueReader):
    def calendar(self, raw: dict[str, Any]) -> CalendarSettings | None:
        if not raw:
            return None
        self.unknown_keys(raw, {"caldav_url", "username", "password_command"}, "calendar.")
        given = raw.get("caldav_url")
        if isinstance(given, str) and given.strip() and not given.isprintable():
            from reminderd.urls import redact

            self.problem("calendar.caldav_url", "a non-empty line of text", redact(given))
            given = None
        url = self.text(given, "calendar.caldav_url", "")
        if not url and "caldav_url" not in raw:
            self.problems.append(f"{self.source}: calendar.caldav_url: expected the address of a CalDAV calendar, "
                                 "got nothing")
        from reminderd.urls import check_url, redact

        why = check_url(url) if url else None
        if why:
            self.problem("calendar.caldav_url", why, redact(url))
        argv = self.command(raw.get("password_command"), "calendar.password_command")
        username = self.text(raw.get("username"), "calendar.username", "") or None
        return CalendarSettings(url, username, argv) if url and not why else None

    def account(self, raw: dict[str, Any]) -> AccountSettings | None:
        """[account]: None unless `claude = true` (reading the account is opt-in)."""
        if not raw:
            return None
        self.unknown_keys(raw, set(AccountSettings._fields), "account.")
        default = AccountSettings()
        claude = raw.get("claude", False)
        if not isinstance(claude, bool):
            self.problem("account.claude", "true or false", claude)
        credentials = self.text(raw.get("credentials_file"), "account.credentials_file", "")
        base = self.text(raw.get("api_base"), "account.api_base", default.api_base).rstrip("/")
        from reminderd.urls import check_api_base, check_organization

        why = check_api_base(base)
        if why:
            self.problem("account.api_base", why, base)
        organization = self.text(raw.get("organization"), "account.organization", "") or None
        if organization is not None and not check_organization(organization):
            self.problem("account.organization", "an organization id (letters, digits and '-')", organization)
        poll = self.whole(raw.get("poll_minutes", default.poll_minutes), "account.poll_minutes", 15, 1440,
                          "minutes", default.poll_minutes)
        label = self.text(raw.get("label"), "account.label", "") or None
        if claude is not True:
            if "claude" not in raw:
                self.warn("account.claude", "not set: the account is not read (claude = true reads it)")
            return None
        return AccountSettings(claude=True, credentials_file=Path(credentials).expanduser() if credentials else None,
                               api_base=base, organization=organization, label=label, poll_minutes=poll)

    def quiet_hours(self, raw: dict[str, Any]) -> QuietHours | None:
        table = self.table(raw, "quiet_hours", "quiet_hours")
        if not table:
            return None
        self.unknown_keys(table, {"start", "end"}, "quiet_hours.")
        start = self.clock(table.get("start"), "quiet_hours.start", None)
        end = self.clock(table.get("end"), "quiet_hours.end", None)
        for key, _value in (("start", start), ("end", end)):
            if key not in table:
                self.problems.append(f"{self.source}: quiet_hours.{key}: expected \"HH:MM\", got nothing")
        if start is None or end is None:
            return None
        if start == end:
            self.problem("quiet_hours.end", "a time different from quiet_hours.start", table.get("end"))
            return None
        return QuietHours(start, end)

    def notifications(self, raw: dict[str, Any]) -> Notifications:
        self.unknown_keys(raw, {"backend", "command", "push", "push_command"}, "notifications.")
        backend = self.name(raw.get("backend"), "notifications.backend", "auto")
        if backend not in NOTIFIER_BACKENDS:
            self.problem("notifications.backend", "one of " + ", ".join(NOTIFIER_BACKENDS), backend)
            backend = "auto"
        command = raw.get("command", [])
        if not isinstance(command, list) or not all(isinstance(c, str) and c for c in command):
            self.problem("notifications.command", 'a list of strings, e.g. ["ntfy", "publish", "me"]', command)
            command = []
        if backend == "command" and not command:
            self.problems.append(f"{self.source}: notifications.command: expected a program to run "
                                 "when backend = \"command\", got nothing")
        push = self.push_urls(raw.get("push"))
        argv = self.command(raw.get("push_command"), "notifications.push_command")
        return Notifications(backend=backend, command=tuple(command), push=push, push_command=argv)

    def push_urls(self, value: Any) -> tuple[PushTarget, ...]:
        """Push channels: Apprise URLs, or [[notifications.push]] tables with a `name` and a `url`.
        Only their shape is checked here (Apprise reads them when the channel is built); a bad one
        is an error naming its place, never its text (a URL carries a token or a password)."""
        if value is None:
            return ()
        expected = ('a list of Apprise URLs, e.g. ["ntfy://ntfy.sh/my-topic"], or [[notifications.push]] tables '
                    'with a name and a url')
        if not isinstance(value, list):
            self.problem("notifications.push", expected, "a value of another kind")
            return ()
        targets: list[PushTarget] = []
        for index, entry in enumerate(value):
            where = f"notifications.push[{index}]"
            if isinstance(entry, dict):
                self.unknown_keys(entry, {"name", "url"}, f"{where}.")
                name = self.name(entry.get("name"), f"{where}.name", "") or None
                if name is not None and not ID_PATTERN.match(name):
                    self.problem(f"{where}.name", "lower-case letters, digits, '.', '_' or '-'", name)
                url = entry.get("url")
            else:
                name, url = None, entry
            if not isinstance(url, str) or not is_one_url(url.strip()):
                self.problems.append(f"{self.source}: {where}{'.url' if isinstance(entry, dict) else ''}: expected "
                                     "one Apprise URL such as ntfy://ntfy.sh/my-topic, got "
                                     f"{describe(url) if isinstance(url, str) else 'a value of another kind'}")
                continue
            if name is not None and any(t.name == name for t in targets):
                self.problem(f"{where}.name", "a name no other push channel has", name)
            targets.append(PushTarget(url.strip(), name))
        return tuple(targets)
