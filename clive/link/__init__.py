"""The stream between a session and the views that watch it.

A session publishes everything a view shows through a ``Hub``: its events, the bytes its
terminals print (as they are read: batching is the disk's business, not the stream's), each
terminal's whole state for a view that starts watching, the approvals it waits for, who has
the terminal. A view sends back what the person does (pause, take over, keys, steer,
approve, quit, the room it has) and the hub carries it out. The hub and its views speak in
messages (``messages.py``), in the same process (``LocalLink``) or over a Unix socket in the
session's directory (``SocketLink``, ``HubServer``).
"""

from clive.link.hub import Hub, Viewer
from clive.link.local import Link, LocalLink
from clive.link.wire import HubServer, SessionViews, SocketLink, socket_path

__all__ = [
    "Hub",
    "HubServer",
    "Link",
    "LocalLink",
    "SessionViews",
    "SocketLink",
    "Viewer",
    "socket_path",
]
