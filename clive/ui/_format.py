"""How the widgets write times, token counts and money."""

from __future__ import annotations


def clock(seconds: float) -> str:
    """``75.3`` as ``1:15``, ``3725`` as ``1:02:05``."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def count(number: int) -> str:
    """``950`` as ``950``, ``12345`` as ``12.3k``, ``4200000`` as ``4.2M``."""
    if number < 1000:
        return str(number)
    if number < 1_000_000:
        return f"{number / 1000:.1f}k"
    return f"{number / 1_000_000:.1f}M"


def money(dollars: float) -> str:
    """Dollars with the cents, or a tenth of a cent under a dollar."""
    return f"${dollars:.2f}" if dollars >= 1 else f"${dollars:.4f}"
