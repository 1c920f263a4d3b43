"""The hub: what a view that starts watching gets, a view too slow to follow, one view at a time
with the terminal, approvals in every view, the shell's size following the views. Real shells
in real PTYs; views in this process (``Hub.connect``)."""

from __future__ import annotations

import threading

import pytest
from polling import wait_until

from clive.agent.approval import ApprovalRequest
from clive.agent.control import AgentControl
from clive.link import hub as hub_module
from clive.link.hub import SHELL, Hub
from clive.link.screens import Screens
from clive.terminal import Terminal

FLOOD = "for i in $(seq 1 40000); do printf '\\033[3%dm%06d \\033[0m line\\n' $((i % 7)) $i; done"


class View:
    """A view in this process: its own screens, and every other message it was sent."""

    def __init__(self, hub: Hub, name: str, gate: threading.Event | None = None) -> None:
        self.viewer, self.hello = hub.connect(name)
        self.screens = Screens(self.hello["cols"], self.hello["rows"])
        self.messages: list[dict] = []
        self._gate = gate  # while clear, the view takes nothing (a slow view)
        self.viewer.start(self._deliver)

    def _deliver(self, batch: list[dict]) -> None:
        if self._gate is not None:
            self._gate.wait(60)
        for message in batch:
            if not self.screens.take(message):
                self.messages.append(message)

    def kinds(self, kind: str) -> list[dict]:
        return [m for m in self.messages if m["k"] == kind]


@pytest.fixture
def shell(tmp_path):
    terminal = Terminal(80, 24, cwd=tmp_path, user_rc=False)
    terminal.start()
    yield terminal
    terminal.close()


def _hub(terminal: Terminal, **options) -> Hub:
    hub = Hub(model="m", cols=terminal.cols, rows=terminal.rows, **options)
    hub.on_start(None, terminal)
    return hub


def _same_screen(view: View, terminal: Terminal) -> bool:
    cells, cursor = terminal.screen_view()
    mine, my_cursor = view.screens.view()
    return mine == cells and (my_cursor.x, my_cursor.y) == (cursor.x, cursor.y)


def test_a_view_that_comes_during_a_flood_shows_exactly_the_terminal_s_screen(shell):
    hub = _hub(shell)
    early = View(hub, "early")
    shell.send_text(FLOOD + "\n")
    wait_until(lambda: early.screens.received > 20_000, "the flood under way")
    late = View(hub, "late")  # mid-flood: the screen's whole state, then every byte after it
    assert shell.wait(prompt=True, timeout=60).reason.value != "timeout"
    for view in (early, late):
        wait_until(lambda v=view: "040000" in "".join(v.screens.lines()), f"{view.hello['name']}")
        wait_until(lambda v=view: _same_screen(v, shell), "the same cells and cursor")
    assert late.kinds("history") == [{"k": "history", "events": []}]


def test_a_view_too_slow_to_follow_is_sent_the_whole_screen_and_ends_exact(shell, monkeypatch):
    monkeypatch.setattr(hub_module, "OUTBOX_LIMIT", 4096)
    screens_sent = []
    send_screen = Hub.send_screen
    monkeypatch.setattr(
        Hub, "send_screen", lambda *args: screens_sent.append(args[2]) or send_screen(*args)
    )
    hub = _hub(shell)
    gate = threading.Event()
    slow = View(hub, "slow", gate)
    shell.send_text(FLOOD + "\n")
    wait_until(lambda: "040000" in "".join(shell.snapshot().lines), "the flood printed")
    gate.set()  # the view catches up: its outbox never held more than the limit
    assert shell.wait(prompt=True, timeout=60).reason.value != "timeout"
    wait_until(lambda: _same_screen(slow, shell), "the slow view shows the screen")
    # Sent whole when it started, and again when it fell behind; most of the flood (about
    # 900 KB) never went to it.
    assert screens_sent.count(SHELL) >= 2
    assert slow.screens.received < 200_000


def test_one_view_at_a_time_has_the_terminal_and_its_keys_alone_are_typed(shell):
    control = AgentControl()
    actions: list[tuple[str, str]] = []
    control.listen(lambda action, message: actions.append((action, message)))
    hub = _hub(shell, control=control)
    left, right = View(hub, "left"), View(hub, "right")

    hub.receive(left.viewer, {"k": "control", "action": "take_over"})
    hub.receive(right.viewer, {"k": "control", "action": "take_over"})
    hub.receive(right.viewer, {"k": "keys", "names": ["e", "c", "h", "o", " ", "X", "Enter"]})
    hub.receive(left.viewer, {"k": "paste", "text": "echo from-the-left\n"})
    assert control.user_in_control and actions == [("take_over", "left")]
    wait_until(lambda: right.kinds("notice"), "the right is told who has it")
    assert right.kinds("notice")[0]["text"] == "the terminal is taken: left has it"
    wait_until(lambda: right.kinds("bell"), "its keys refused")
    wait_until(lambda: "from-the-left" in "".join(right.screens.lines()), "the right sees it")
    assert "echo X" not in shell.transcript.read()
    for view in (left, right):
        wait_until(lambda v=view: v.kinds("holder"), "who has it, told to every view")
        assert view.kinds("holder")[-1] == {"k": "holder", "viewer": 1, "name": "left"}

    hub.disconnect(left.viewer)  # its terminal closed: the agent gets the shell back
    assert not control.user_in_control and actions[-1] == ("give_back", "left")
    wait_until(lambda: right.kinds("holder")[-1]["viewer"] is None, "nobody has it now")
    hub.receive(right.viewer, {"k": "control", "action": "take_over"})
    assert actions[-1] == ("take_over", "right")


def test_an_approval_is_asked_in_every_view_and_the_first_answer_decides():
    hub = Hub(model="m", cols=80, rows=24)
    left, right = View(hub, "left"), View(hub, "right")
    decisions = []
    request = ApprovalRequest(step=3, action="sudo true", rule="sudo")
    asking = threading.Thread(target=lambda: decisions.append(hub.approver(request)))
    asking.start()
    for view in (left, right):
        wait_until(lambda v=view: v.kinds("approval"), "asked in each view")
    (asked,) = right.kinds("approval")
    assert (asked["action"], asked["rule"], asked["step"]) == ("sudo true", "sudo", 3)
    late = View(hub, "late")  # a view that comes while it waits is asked too
    wait_until(lambda: late.kinds("approval"), "asked in the late view")

    hub.receive(right.viewer, {"k": "approve", "id": asked["id"], "yes": True})
    hub.receive(left.viewer, {"k": "approve", "id": asked["id"], "yes": False})  # too late
    asking.join(10)
    assert not asking.is_alive()
    assert decisions[0].approved and decisions[0].by == "user"
    for view in (left, right, late):
        wait_until(lambda v=view: v.kinds("approval_closed"), "the dialog closed everywhere")


def test_quitting_refuses_an_approval_nobody_answered():
    hub = Hub(model="m", cols=80, rows=24)
    decisions = []
    asking = threading.Thread(
        target=lambda: decisions.append(hub.approver(ApprovalRequest(1, "rm -rf /", "rm")))
    )
    asking.start()
    hub.control.quit()
    asking.join(10)
    assert not decisions[0].approved and "quitting" in decisions[0].reason


class _Sizes:
    """The control's resizer: the sizes the shell was given, in order."""

    def __init__(self, control: AgentControl) -> None:
        self.given: list[tuple[int, int]] = []
        control.add_resizer(lambda cols, rows: self.given.append((cols, rows)))


class _Writer:
    directory = "/nowhere"


def test_the_shell_takes_the_smallest_room_of_its_views_never_less_than_80x24():
    hub = Hub(model="m", cols=120, rows=40, follow=True, room_wait=30.0)
    wide = View(hub, "wide")
    hub.receive(wide.viewer, {"k": "room", "cols": 150, "rows": 45})
    hub.on_open(_Writer())  # the room is known: it does not wait
    sizes = _Sizes(hub.control)
    assert sizes.given == [(150, 45)]  # the size the shell starts with

    narrow = View(hub, "narrow")
    hub.receive(narrow.viewer, {"k": "room", "cols": 100, "rows": 50})
    wait_until(lambda: sizes.given[-1] == (100, 45), "the smallest of each")
    hub.receive(narrow.viewer, {"k": "room", "cols": 60, "rows": 20})
    wait_until(lambda: sizes.given[-1] == (80, 24), "never less than 80x24")
    hub.disconnect(narrow.viewer)
    wait_until(lambda: sizes.given[-1] == (150, 45), "the wide one's again")


def test_a_fixed_size_does_not_follow_the_views():
    hub = Hub(model="m", cols=120, rows=40, follow=False, room_wait=30.0)
    view = View(hub, "v")
    hub.on_open(_Writer())  # fixed: it does not wait for a room
    sizes = _Sizes(hub.control)
    hub.receive(view.viewer, {"k": "room", "cols": 90, "rows": 30})
    hub.finished()
    wait_until(lambda: view.kinds("gone"), "the end told")
    assert sizes.given == [] and view.hello["fixed"]


def test_malformed_messages_are_ignored(shell):
    hub = _hub(shell)
    view = View(hub, "v")
    for message in ({}, {"k": "keys"}, {"k": "approve", "id": "x"}, {"k": "room", "cols": "a"}):
        hub.receive(view.viewer, message)
    hub.receive(view.viewer, {"k": "control", "action": "take_over"})
    hub.receive(view.viewer, {"k": "keys", "names": ["NoSuchKey"]})  # told with a bell
    wait_until(lambda: view.kinds("bell"), "the bell")
