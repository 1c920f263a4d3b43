"""Sessions on disk: events, the writer, the reader, replay, and the asciicast format."""

from clive.session.info import SessionInfo
from clive.session.reader import (
    Session,
    SessionNotFound,
    SessionUnreadable,
    find_session,
    list_sessions,
)
from clive.session.redact import Redactor
from clive.session.writer import SessionWriter

__all__ = [
    "Redactor",
    "Session",
    "SessionInfo",
    "SessionNotFound",
    "SessionUnreadable",
    "SessionWriter",
    "find_session",
    "list_sessions",
]
