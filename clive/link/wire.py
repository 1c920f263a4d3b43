"""The stream over a Unix socket in the session's directory (``view.sock``, for its user only):
``HubServer`` on the session's side, ``SocketLink`` on a view's.

A message is a line of JSON. The terminals' bytes travel as text decoded with
``surrogateescape`` (so any byte comes back as it was, a character cut by a read included),
events as their JSON. A view says ``{"k": "hello", "name": ...}`` first and gets its hello.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from clive.link.hub import Deliver, Hub, Message, Viewer
from clive.session.events import EVENT_ADAPTER

SOCKET_NAME = "view.sock"
_MAX_ADDRESS = 100  # sun_path holds 108 bytes; longer paths are reached through /proc


class LinkError(OSError):
    """The session cannot be reached."""


def socket_path(directory: Path) -> Path:
    return directory / SOCKET_NAME


def encode(message: Message) -> bytes:
    kind = message["k"]
    if kind == "output":
        message = {**message, "data": message["data"].decode("utf-8", "surrogateescape")}
    elif kind == "screen":
        message = {**message, "pending": message["pending"].decode("utf-8", "surrogateescape")}
    elif kind == "event":
        message = {"k": "event", "event": message["event"].model_dump(mode="json")}
    elif kind == "history":
        message = {"k": "history", "events": [e.model_dump(mode="json") for e in message["events"]]}
    return json.dumps(message, separators=(",", ":")).encode("ascii") + b"\n"


def decode(line: bytes) -> Message:
    message = json.loads(line)
    kind = message["k"]
    if kind == "output":
        message["data"] = message["data"].encode("utf-8", "surrogateescape")
    elif kind == "screen":
        message["pending"] = message["pending"].encode("utf-8", "surrogateescape")
    elif kind == "event":
        message["event"] = EVENT_ADAPTER.validate_python(message["event"])
    elif kind == "history":
        message["events"] = [EVENT_ADAPTER.validate_python(e) for e in message["events"]]
    return message


@contextlib.contextmanager
def _address(path: Path) -> Iterator[str]:
    """An address for ``path`` that fits a socket's: the path, or the same file through the
    directory's descriptor in /proc when the path is too long."""
    if len(os.fsencode(path)) <= _MAX_ADDRESS:
        yield str(path)
        return
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


class _Lines:
    """Lines of a socket, gathered as they come: all the whole lines there are at a time."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._parts: list[bytes] = []

    def next_lines(self) -> list[bytes] | None:
        """The whole lines that have arrived (waiting for one); None at the end."""
        while True:
            data = self._sock.recv(1 << 20)
            if not data:
                return None
            end = data.rfind(b"\n")
            if end < 0:
                self._parts.append(data)
                continue
            self._parts.append(data[: end + 1])
            text = b"".join(self._parts)
            self._parts = [data[end + 1 :]] if end + 1 < len(data) else []
            return text.split(b"\n")[:-1]


class HubServer:
    """Serves ``hub`` on ``directory``/view.sock to this user's processes."""

    def __init__(self, hub: Hub, directory: Path) -> None:
        self.hub = hub
        self.path = socket_path(directory)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a dead session's
        # Born where only this user can reach it (a directory of mode 0700), made 0600, then
        # moved into place: no moment at which another user may connect. The process's umask
        # is never changed: other threads (a fleet's workers) create files meanwhile.
        private = Path(tempfile.mkdtemp(prefix=".view-", dir=self.path.parent))
        try:
            born = private / self.path.name
            with _address(born) as address:
                self._sock.bind(address)
            os.chmod(born, 0o600)
            os.replace(born, self.path)
            self._sock.listen(16)
        except OSError:
            self._sock.close()
            raise
        finally:
            with contextlib.suppress(OSError):
                for leftover in private.iterdir():
                    leftover.unlink()
                private.rmdir()
        threading.Thread(target=self._accept, name="clive-hub-server", daemon=True).start()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections = list(self._connections)
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._sock.accept()
            except OSError:
                return  # closed
            if not self._may_watch(connection):
                connection.close()
                continue
            with self._lock:
                if self._closed:
                    connection.close()
                    return
                self._connections.add(connection)
            threading.Thread(
                target=self._serve, args=(connection,), name="clive-hub-view", daemon=True
            ).start()

    def _serve(self, connection: socket.socket) -> None:
        viewer: Viewer | None = None
        try:
            lines = _Lines(connection)
            first = lines.next_lines()
            if not first:
                return
            hello = json.loads(first[0])
            if hello.get("k") != "hello":
                return
            viewer, answer = self.hub.connect(str(hello.get("name") or "a view"))
            write = threading.Lock()

            def deliver(batch: list[Message]) -> None:
                data = b"".join(map(encode, batch))
                with write:
                    connection.sendall(data)

            deliver([answer])
            viewer.start(deliver)
            pending = first[1:]
            while True:
                for line in pending:
                    with contextlib.suppress(ValueError):
                        self.hub.receive(viewer, json.loads(line))
                pending = lines.next_lines()
                if pending is None:
                    return
        except (OSError, ValueError):
            return
        finally:
            if viewer is not None:
                self.hub.disconnect(viewer)
            with self._lock:
                self._connections.discard(connection)
            connection.close()

    def _may_watch(self, connection: socket.socket) -> bool:
        """The process at the other end runs as this user (the socket's mode says so too),
        and not in the session's own shell: the model, unsandboxed, must not approve its own
        commands or take the terminal. (Unsandboxed, a model that hides its origin well
        enough can still reach the socket as any program of yours can: the sandbox is what
        keeps it out of sight.)"""
        try:
            credentials = connection.getsockopt(
                socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")
            )
        except OSError:
            return False
        pid, uid, _gid = struct.unpack("3i", credentials)
        if uid != os.getuid():
            return False
        shell = self.hub.terminal
        return not _in_a_shell_of_clive(pid, shell.pid if shell is not None else None)


def _in_a_shell_of_clive(pid: int, shell: int | None) -> bool:
    """``pid`` was started in a terminal of clive's (it carries the terminal's marker) or
    descends from the session's ``shell``."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return True  # gone already, or hidden: not to be trusted
    if b"\0CLIVE_TERMINAL_ID=" in b"\0" + environ:
        return True
    while pid > 1 and shell is not None:
        if pid == shell:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rpartition(")")[2].split()[1])  # the parent's
    return False


class SocketLink:
    """A view's end of the stream of the session whose socket is ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sock: socket.socket | None = None
        self._lines: _Lines | None = None
        self._first: list[bytes] = []
        self._write = threading.Lock()

    def connect(self, name: str, timeout: float = 10.0) -> Message:
        """Say hello; the session's answer (raises ``LinkError`` when it cannot be reached)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with _address(self.path) as address:
                sock.connect(address)
            sock.settimeout(timeout)
            sock.sendall(json.dumps({"k": "hello", "name": name}).encode() + b"\n")
            self._lines = _Lines(sock)
            lines = self._lines.next_lines()
            if not lines:
                raise LinkError(f"the session at {self.path} closed the connection")
            hello = decode(lines[0])
            sock.settimeout(None)
        except (OSError, ValueError) as error:
            sock.close()
            if isinstance(error, LinkError):
                raise
            raise LinkError(f"cannot reach the session at {self.path}: {error}") from error
        if hello.get("k") != "hello":
            sock.close()
            raise LinkError(f"{self.path} did not answer as a clive session")
        self._sock = sock
        self._first = lines[1:]
        return hello

    def start(self, deliver: Deliver) -> None:
        threading.Thread(target=self._read, args=(deliver,), name="clive-link", daemon=True).start()

    def send(self, message: Message) -> None:
        if self._sock is None:
            return
        data = json.dumps(message).encode() + b"\n"
        with self._write, contextlib.suppress(OSError):
            self._sock.sendall(data)

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def _read(self, deliver: Deliver) -> None:
        assert self._lines is not None and self._sock is not None
        lines: list[bytes] | None = self._first
        try:
            while lines is not None:
                if lines:
                    deliver([decode(line) for line in lines])
                lines = self._lines.next_lines()
        except (OSError, ValueError):
            pass
        finally:
            deliver([{"k": "closed"}])
            with contextlib.suppress(OSError):
                self._sock.close()


VIEWS_CATCH_UP = 5.0  # seconds the views have, at the end, to get what waits for them


class SessionViews:
    """A session's views: ``hub`` served on a socket in the session's directory as soon as
    it has one (``on_open``), and let go when the session ends (``close``). ``refused(error)``
    says why no view can attach; ``announce(writer)`` runs once the socket listens, before
    the shell starts."""

    def __init__(
        self,
        hub: Hub,
        refused: Callable[[OSError], None],
        announce: Callable[[object], None] | None = None,
    ) -> None:
        self.hub = hub
        self._refused = refused
        self._announce = announce
        self._servers: list[HubServer] = []

    def on_open(self, writer) -> None:
        try:
            self._servers.append(HubServer(self.hub, writer.directory))
        except OSError as error:
            self._refused(error)
        if self._announce is not None:
            self._announce(writer)
        self.hub.on_open(writer)  # the view on its way says its room: the shell starts at it

    def close(self, failure: str | None) -> None:
        """The session has ended (``failure``: what clive itself failed with)."""
        self.hub.finished(failure)
        self.hub.close(timeout=VIEWS_CATCH_UP)
        for server in self._servers:
            server.close()
