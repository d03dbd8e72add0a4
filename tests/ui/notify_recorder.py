#!/usr/bin/python3
"""A stand-in notification daemon for tests/ui/bench-notify.mjs.

Owns org.freedesktop.Notifications on the session bus (the private one of
scripts/with-keyring.sh) and prints one JSON line per Notify call with its arrival time, so
the benchmark can tell when the app raised each notification. Needs Debian's python3-dbus
and python3-gi (run with /usr/bin/python3).
"""
import json
import time

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

INTERFACE = "org.freedesktop.Notifications"
OBJECT_PATH = "/org/freedesktop/Notifications"


def emit(record):
    print(json.dumps(record), flush=True)


class Recorder(dbus.service.Object):
    def __init__(self, bus):
        super().__init__(bus, OBJECT_PATH)
        self.last_id = 0

    @dbus.service.method(INTERFACE, in_signature="susssasa{sv}i", out_signature="u")
    def Notify(self, app_name, replaces_id, app_icon, summary, body, actions, hints, timeout):
        # Stamped first thing, before anything else this process does.
        arrived_ms = time.time() * 1000
        self.last_id += 1
        emit({"at_ms": arrived_ms, "app": str(app_name), "summary": str(summary), "body": str(body)})
        return dbus.UInt32(self.last_id)

    @dbus.service.method(INTERFACE, in_signature="", out_signature="as")
    def GetCapabilities(self):
        return ["body"]

    @dbus.service.method(INTERFACE, in_signature="u", out_signature="")
    def CloseNotification(self, notification_id):
        pass

    @dbus.service.method(INTERFACE, in_signature="", out_signature="ssss")
    def GetServerInformation(self):
        return ("countersign-bench-recorder", "countersign", "1", "1.2")


def main():
    DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    # Kept referenced: dropping the BusName releases the name.
    name = dbus.service.BusName(INTERFACE, bus, do_not_queue=True)
    recorder = Recorder(bus)
    emit({"ready": True})
    GLib.MainLoop().run()
    del name, recorder


if __name__ == "__main__":
    main()
