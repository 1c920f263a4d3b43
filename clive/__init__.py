"""clive: a harness in which a language model inhabits a real terminal."""

__version__ = "0.1.0"
