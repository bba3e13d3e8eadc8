"""Read an .ics with libical (GNOME's and Evolution's parser) and report what it rejects.

Usage: /usr/bin/python3 libical_check.py FILE   (Debian's python3 with python3-gi and gir1.2-ical-3.0)
Prints JSON: {"events": N, "errors": ["VEVENT <uid>: <libical's X-LIC-ERROR text>", ...]}.
libical's restriction check (icalrestriction_check) marks each violation with an X-LIC-ERROR
property on the component; a parse problem is marked the same way.
"""

from __future__ import annotations

import json
import sys

import gi

gi.require_version("ICalGLib", "3.0")
from gi.repository import ICalGLib  # noqa: E402


def errors_in(component: ICalGLib.Component, out: list[str]) -> None:
    # read the UID first: get_uid() moves the component's one property iterator
    uid = component.get_uid() if component.isa() == ICalGLib.ComponentKind.VEVENT_COMPONENT else ""
    name = component.isa().value_nick.upper()
    prop = component.get_first_property(ICalGLib.PropertyKind.XLICERROR_PROPERTY)
    while prop is not None:
        out.append(f"{name} {uid}: {prop.get_xlicerror()}".replace("  ", " "))
        prop = component.get_next_property(ICalGLib.PropertyKind.XLICERROR_PROPERTY)
    child = component.get_first_component(ICalGLib.ComponentKind.ANY_COMPONENT)
    while child is not None:
        errors_in(child, out)
        child = component.get_next_component(ICalGLib.ComponentKind.ANY_COMPONENT)


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as handle:
        calendar = ICalGLib.Component.new_from_string(handle.read())
    ICalGLib.restriction_check(calendar)
    errors: list[str] = []
    errors_in(calendar, errors)
    count = calendar.count_components(ICalGLib.ComponentKind.VEVENT_COMPONENT)
    print(json.dumps({"events": count, "errors": errors}))


if __name__ == "__main__":
    main()
