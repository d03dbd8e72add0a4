#!/usr/bin/python3
"""Asks the X window titled sys.argv[1] to close, as a window manager's close button does:
a WM_DELETE_WINDOW client message (Xvfb runs no window manager to send it). Needs Debian's
python3-xlib."""
import sys

from Xlib import X, display, protocol


def toplevels(root, title, delete):
    """Top-level windows (children of the root) with that title that accept WM_DELETE_WINDOW."""
    for child in root.query_tree().children:
        try:
            if child.get_wm_name() == title and delete in (child.get_wm_protocols() or []):
                yield child
        except Exception:  # a window that vanished meanwhile
            continue


def main():
    d = display.Display()
    protocols = d.intern_atom("WM_PROTOCOLS")
    delete = d.intern_atom("WM_DELETE_WINDOW")
    targets = list(toplevels(d.screen().root, sys.argv[1], delete))
    if not targets:
        sys.exit(f"no closable window titled {sys.argv[1]!r}")
    for target in targets:
        event = protocol.event.ClientMessage(window=target, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0]))
        target.send_event(event, event_mask=X.NoEventMask)
    d.flush()


if __name__ == "__main__":
    main()
