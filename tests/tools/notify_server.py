"""A minimal org.freedesktop.Notifications server that records every Notify call.

Usage: python notify_server.py RECORD_FILE [--refuse]
Writes one JSON line per Notify call ({"summary", "body", "app_name", "timeout"}) to RECORD_FILE,
and "ready" to stdout once it owns the name. With --refuse it answers Notify with an error.
"""

from __future__ import annotations

import json
import sys
import time

from jeepney import HeaderFields, MessageType, new_error, new_method_return
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

NAME = "org.freedesktop.Notifications"


def main() -> None:
    record, refuse = sys.argv[1], "--refuse" in sys.argv
    connection = open_dbus_connection(bus="SESSION")
    reply = connection.send_and_get_reply(message_bus.RequestName(NAME, 4))  # 4: do not queue
    if reply.body[0] != 1:
        sys.exit(f"could not own {NAME}: {reply.body}")
    print("ready", flush=True)
    next_id = 1
    while True:
        message = connection.receive()
        if message.header.message_type != MessageType.method_call:
            continue
        member = message.header.fields.get(HeaderFields.member)
        if member == "GetCapabilities":
            connection.send(new_method_return(message, "as", (["body", "body-markup"],)))
        elif member == "GetServerInformation":
            connection.send(new_method_return(message, "ssss", ("recorder", "reminderd-tests", "1", "1.2")))
        elif member == "Notify":
            app_name, _, _, summary, body, _, _, timeout = message.body
            if refuse:
                connection.send(new_error(message, "org.freedesktop.DBus.Error.Failed", "s", ("refused",)))
                continue
            with open(record, "a", encoding="utf-8") as out:
                out.write(json.dumps({"summary": summary, "body": body, "app_name": app_name,
                                      "timeout": timeout, "received_at": time.time()}) + "\n")
            connection.send(new_method_return(message, "u", (next_id,)))
            next_id += 1
        else:
            connection.send(new_error(message, "org.freedesktop.DBus.Error.UnknownMethod", "s", (str(member),)))


if __name__ == "__main__":
    main()
