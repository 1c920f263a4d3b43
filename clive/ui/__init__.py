"""clive's Textual UI: widgets that render what they are given, and the apps built from them.

The widgets (``TerminalView``, ``Timeline``, ``StatusBar``) know nothing of where their data
comes from: the replay app feeds them from a session on disk, the live app from a running agent.
"""

from clive.ui.status_bar import StatusBar
from clive.ui.terminal_view import TerminalView
from clive.ui.timeline import Timeline

__all__ = ["StatusBar", "TerminalView", "Timeline"]
