"""A minimal org.freedesktop.Notifications server that records every Notify call.

Usage: python notify_server.py RECORD_FILE [--refuse] [--actions]
Writes one JSON line per Notify call ({"id", "summary", "body", "actions", "app_name", "timeout",
"urgency": the hint's byte, 0 low, 1 normal, 2 critical})
to RECORD_FILE, and "ready" to stdout once it owns the name. With --refuse it answers Notify with
an error. With --actions it advertises the "actions" capability, and a test clicks a button by
calling org.reminderd.Test.InvokeAction(id, key) on it: the server then sends ActionInvoked and
NotificationClosed to the connection that called Notify only, as GNOME Shell does.
"""

from __future__ import annotations

import json
import sys
import time

from jeepney import DBusAddress, HeaderFields, MessageType, new_error, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

NAME = "org.freedesktop.Notifications"
SERVER = DBusAddress("/org/freedesktop/Notifications", interface=NAME)


def signal_to(destination: str, member: str, signature: str, body: tuple[object, ...]) -> object:
    message = new_signal(SERVER, member, signature, body)
    message.header.fields[HeaderFields.destination] = destination
    return message


def main() -> None:
    record, refuse, actions = sys.argv[1], "--refuse" in sys.argv, "--actions" in sys.argv
    connection = open_dbus_connection(bus="SESSION")
    reply = connection.send_and_get_reply(message_bus.RequestName(NAME, 4))  # 4: do not queue
    if reply.body[0] != 1:
        sys.exit(f"could not own {NAME}: {reply.body}")
    print("ready", flush=True)
    next_id = 1
    callers: dict[int, str] = {}
    while True:
        message = connection.receive()
        if message.header.message_type != MessageType.method_call:
            continue
        member = message.header.fields.get(HeaderFields.member)
        sender = message.header.fields.get(HeaderFields.sender)
        if member == "GetCapabilities":
            caps = ["body", "body-markup"] + (["actions"] if actions else [])
            connection.send(new_method_return(message, "as", (caps,)))
        elif member == "GetServerInformation":
            connection.send(new_method_return(message, "ssss", ("recorder", "reminderd-tests", "1", "1.2")))
        elif member == "Notify":
            app_name, _, _, summary, body, buttons, hints, timeout = message.body
            if refuse:
                connection.send(new_error(message, "org.freedesktop.DBus.Error.Failed", "s", ("refused",)))
                continue
            with open(record, "a", encoding="utf-8") as out:
                out.write(json.dumps({"id": next_id, "summary": summary, "body": body, "actions": buttons,
                                      "app_name": app_name, "timeout": timeout,
                                      "urgency": hints["urgency"][1] if "urgency" in hints else None,
                                      "received_at": time.time()}) + "\n")
            callers[next_id] = sender
            connection.send(new_method_return(message, "u", (next_id,)))
            next_id += 1
        elif member == "InvokeAction":  # the test's click
            notification_id, key = message.body
            connection.send(new_method_return(message))
            caller = callers.pop(notification_id, None)
            if caller is not None:
                connection.send(signal_to(caller, "ActionInvoked", "us", (notification_id, key)))
                connection.send(signal_to(caller, "NotificationClosed", "uu", (notification_id, 2)))
        elif member == "CloseNotification":
            (notification_id,) = message.body
            connection.send(new_method_return(message))
            caller = callers.pop(notification_id, None)
            if caller is not None:
                connection.send(signal_to(caller, "NotificationClosed", "uu", (notification_id, 3)))
        else:
            connection.send(new_error(message, "org.freedesktop.DBus.Error.UnknownMethod", "s", (str(member),)))


if __name__ == "__main__":
    main()
