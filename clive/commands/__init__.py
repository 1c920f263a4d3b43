"""One module per ``clive`` command: each a thin function over the core."""
