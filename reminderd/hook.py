"""`reminderd hook [--debug]`: Claude Code's SessionStart hook. When a credit needs action now (the
summary's most urgent reminder: expiring soon with usage credits on or unknown, may be spent, claim
deadline, the card paying), it prints `{"systemMessage": "..."}`, which Claude Code shows the person
(never the model); otherwise nothing.

Claude Code sends anything else on stdout to the model, and waits for the hook: so it prints one JSON
object or nothing, exits 0 whatever happens (entry.py makes sure), writes to stderr only with --debug,
and reads the summary file, never the config. The same reminder is shown at most once per session
(SessionStart comes again on resume, /clear and compaction): shown sessions are remembered for
REMEMBER in `hook_sessions.json` in the state directory.
"""

from __future__ import annotations

import os
import sys

from reminderd import light, lightjson
from reminderd.summary_file import credits, read_summary, urgent, words_at

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any

SESSIONS = "hook_sessions.json"
REMEMBER = 2 * 86400  # seconds a session's shown reminders are remembered
MAX_SESSIONS = 500
MAX_SESSION_ID = 200


class Debug:
    def __init__(self, on: bool) -> None:
        self.on = on

    def __call__(self, line: str) -> None:
        if self.on:
            sys.stderr.write(f"reminderd hook: {line}\n")


def main(args: list[str]) -> int:
    debug = Debug("--debug" in args)
    data = light.json_object(light.read_input())
    if data is None:
        debug("no JSON object on stdin: nothing to do")
        return 0
    event = data.get("hook_event_name")
    if event != "SessionStart":
        debug(f"event {event!r}: only SessionStart is answered" if event else
              "no hook_event_name in the input: only SessionStart is answered")
        return 0
    now, directory = light.now(), light.state_dir()
    document = read_summary(directory, now)
    if document is None:
        debug(f"no summary ready in {directory} (run `reminderd status`, or the daemon)")
        return 0
    reminder = urgent(document, now)
    if reminder is None:
        debug("no credit needs action now")
        return 0
    session = data.get("session_id")
    session = session if isinstance(session, str) and 0 < len(session) <= MAX_SESSION_ID else None
    shown = _shown(directory)
    if session is not None and reminder["id"] in shown.get(session, {}):
        debug(f"{reminder['id']} was shown in session {session} already")
        return 0
    sys.stdout.write(lightjson.dumps({"systemMessage": message(document, reminder, now)}) + "\n")
    sys.stdout.flush()
    if session is not None:
        _remember(directory, shown, session, str(reminder["id"]), now.timestamp())
    debug(f"showed {reminder['id']}")
    return 0


def message(document: dict[str, Any], reminder: dict[str, Any], now: datetime) -> str:
    """What the person reads: the few words, whose credit, what to do and how to say it is done."""
    credit = next((c for c in credits(document) if c["id"] == reminder.get("credit")), None)
    words = words_at(reminder, now)
    label = str(credit.get("label") or credit["id"]) if credit else str(reminder.get("credit") or "")
    head = f"reminderd: {words}" if label and words.startswith(label) else f"reminderd ({label}): {words}"
    parts = [head.rstrip(".") + "."]
    body = reminder.get("message")
    if isinstance(body, str) and body:
        parts.append(body)
    done = reminder.get("done")
    if isinstance(done, str) and done and done not in (body or ""):  # the body may end with it already
        parts.append(f"Once it is off, run `{done}`.")
    return "".join(c if c.isprintable() else " " for c in " ".join(parts))


def _shown(directory: str) -> dict[str, dict[str, float]]:
    """session id -> reminder id -> when it was shown; nothing from a missing or damaged file."""
    try:
        with open(os.path.join(directory, SESSIONS), "rb") as handle:
            document = lightjson.loads(handle.read(1 << 20))
    except (OSError, ValueError, RecursionError):
        return {}
    sessions = document.get("sessions") if isinstance(document, dict) else None
    if not isinstance(sessions, dict):
        return {}
    return {session: {rid: at for rid, at in shown.items() if isinstance(at, int | float)}
            for session, shown in sessions.items() if isinstance(shown, dict)}


def _remember(directory: str, shown: dict[str, dict[str, float]], session: str, reminder_id: str,
              at: float) -> None:
    from reminderd.files import write_atomically

    shown.setdefault(session, {})[reminder_id] = at
    kept = {s: r for s, r in shown.items() if r and max(r.values()) > at - REMEMBER}
    newest = sorted(kept, key=lambda s: max(kept[s].values()))[-MAX_SESSIONS:]
    data = lightjson.dumps({"schema_version": 1, "sessions": {s: kept[s] for s in newest}}, sort_keys=True)
    # No fsync: Claude Code waits for the hook, and a crash that loses this only shows a warning again.
    write_atomically(os.path.join(directory, SESSIONS), data.encode(), durable=False)
