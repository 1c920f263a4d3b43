"""The stream over the session's socket: any byte arrives as it was, the socket is its user's
alone, a path longer than a socket address allows still works, and a view hears the end."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_profile import examples
from polling import wait_until

from clive.link.hub import Hub
from clive.link.screens import Screens
from clive.link.wire import HubServer, LinkError, SocketLink, decode, encode, socket_path
from clive.session.events import Control, Note


@settings(max_examples=examples(200), deadline=None)
@given(data=st.binary(max_size=300), pending=st.binary(max_size=3))
def test_any_bytes_arrive_as_they_were(data, pending):
    output = {"k": "output", "screen": "shell", "data": data}
    screen = {"k": "screen", "screen": "shell", "state": "{}", "pending": pending}
    assert decode(encode(output)) == output
    assert decode(encode(screen)) == screen
    assert encode(output).count(b"\n") == 1  # one message, one line


def test_events_arrive_as_events():
    event = Note(t=1.5, step=2, text="ünïcode \x1b[31m and a line\nbreak")
    assert decode(encode({"k": "event", "event": event})) == {"k": "event", "event": event}
    history = decode(encode({"k": "history", "events": [event, Control(action="pause")]}))
    assert history["events"] == [event, Control(action="pause")]


class _Writer:
    def __init__(self, directory) -> None:
        self.directory = directory


def _served(directory) -> tuple[Hub, HubServer]:
    hub = Hub(model="m", cols=80, rows=24)
    hub.on_open(_Writer(directory))
    return hub, HubServer(hub, directory)


def test_a_view_over_the_socket_watches_asks_and_hears_the_end(tmp_path):
    hub, server = _served(tmp_path)
    hub.on_event(Note(step=1, text="before the view came"))
    link = SocketLink(socket_path(tmp_path))
    hello = link.connect("tester")
    assert (hello["k"], hello["name"], hello["model"]) == ("hello", "tester", "m")
    messages: list[dict] = []
    link.start(messages.extend)
    wait_until(lambda: any(m["k"] == "history" for m in messages), "the history")
    (history,) = [m for m in messages if m["k"] == "history"]
    assert [e.text for e in history["events"]] == ["before the view came"]

    link.send({"k": "control", "action": "pause"})
    wait_until(lambda: hub.control.paused, "the pause carried out")
    hub.on_event(Note(step=1, text="as it happens"))
    wait_until(lambda: any(m["k"] == "event" for m in messages), "an event as it happens")
    hub.finished()
    hub.close()
    server.close()
    wait_until(lambda: messages and messages[-1]["k"] == "closed", "the connection closed")
    kinds = [m["k"] for m in messages]
    assert kinds.index("gone") < kinds.index("closed")
    assert not socket_path(tmp_path).exists()


def test_the_socket_is_its_user_s_alone():
    if os.getuid() != 0:
        pytest.skip("another user can only be tried as root")
    # A directory every user may enter (pytest's are its user's alone): the socket must hold.
    directory = Path(tempfile.mkdtemp(prefix="clive-socket-"))
    directory.chmod(0o755)
    _hub, server = _served(directory)
    mode = socket_path(directory).stat().st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    child = os.fork()
    if child == 0:  # pragma: no cover - the other user's process
        status = 3
        try:
            os.setgid(65534)
            os.setuid(65534)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(str(socket_path(directory)))
            status = 1  # connected: the mode did not hold
        except PermissionError:
            status = 0
        finally:
            os._exit(status)
    _, status = os.waitpid(child, 0)
    server.close()
    shutil.rmtree(directory)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_session_directory_too_long_for_a_socket_address_still_serves(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    assert len(str(socket_path(deep))) > 108
    _hub, server = _served(deep)
    link = SocketLink(socket_path(deep))
    assert link.connect("far")["k"] == "hello"
    screens = Screens(80, 24)
    received: list[dict] = []
    link.start(lambda batch: received.extend(m for m in batch if not screens.take(m)))
    link.close()
    wait_until(lambda: received and received[-1]["k"] == "closed", "closed")
    server.close()


def test_no_session_there_is_a_clear_error(tmp_path):
    with pytest.raises(LinkError, match="cannot reach the session"):
        SocketLink(socket_path(tmp_path)).connect("nobody")


def test_serving_leaves_the_process_umask_alone(tmp_path, monkeypatch):
    # The umask is the process's: set while the socket is bound, it made the files that a
    # fleet's other workers created meanwhile unreadable in their sandboxes (mode 0600
    # directories: the metric ran in $HOME).
    changed = []
    monkeypatch.setattr(os, "umask", lambda mask: changed.append(mask) or 0o022)
    _hub, server = _served(tmp_path)
    try:
        assert changed == []
        assert [p.name for p in tmp_path.iterdir()] == ["view.sock"]  # nothing left beside
        assert stat.S_IMODE(socket_path(tmp_path).stat().st_mode) == 0o600
    finally:
        server.close()
