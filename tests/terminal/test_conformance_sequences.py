"""Every control and escape sequence clive's emulator claims, shown as tmux shows it.

Each case is a byte string written as it is to a fresh 80x24 tmux pane (the reference) and fed
to clive's `Emulator`; the two screens must agree on the text of every row, the colours and
attributes of every character, the cursor (position and visibility), the alternate screen, and
where a case says so the title and the answers sent back to the program. The sequences are
those of xterm's control sequences documentation and ECMA-48. Where tmux departs from what xterm
documents, the case says so: it keeps tmux's answer unless xterm's is certain, and then gives
tmux other bytes (`reference`) that draw what xterm documents.

tmux's capture leaves out the blanks an erase coloured at the end of a line (background colour
erase), so the cases about those end with `fenced`: a plain `|` in the last column of every row,
written between DECSC and DECRC, makes the whole width visible.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

import pytest
from tmux_reference import Rendering, clive_screen, compare_styled_screens, render_in_tmux

from clive.terminal import Emulator

COLS, ROWS = 80, 24
ESC = "\x1b"
CSI = ESC + "["
OSC = ESC + "]"
ST = ESC + "\\"
BEL = "\x07"
_QUIET_C0 = (1, 2, 3, 4, 5, 6, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x19, 0x1C, 0x1D)
# 80 distinct characters: a row of them shows which columns moved where.
_RULER = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!#$%&()*+,-./:<=>?"


@dataclass(frozen=True)
class Case:
    """Bytes to show, and what of the result to compare beyond the screen and the cursor."""

    name: str
    data: str | bytes
    title: bool = False  # the case sets the title: compare it
    answers: bool = False  # compare what the terminal answered to queries, byte for byte
    reference: str | bytes | None = None  # tmux gets these instead: see the module docstring

    def payload(self, for_tmux: bool) -> bytes:
        data = self.reference if for_tmux and self.reference is not None else self.data
        return data if isinstance(data, bytes) else data.encode()


def cup(row: int, col: int) -> str:
    """CUP to a row and column counted from 1, as the sequence counts them."""
    return f"{CSI}{row};{col}H"


def canvas(rows: int = 8, width: int = 40) -> str:
    """Rows of distinct text (`A0123...`, `B0123...`) from the top left, written by CUP."""
    return "".join(f"{cup(y + 1, 1)}{chr(ord('A') + y)}{_RULER[1:width]}" for y in range(rows))


def numbered_lines(count: int) -> str:
    """`line 1` .. `line N`, one per row, by CR LF: more than 24 scroll."""
    return "\r\n".join(f"line {n}" for n in range(1, count + 1))


def fenced(data: str) -> str:
    """`data`, then a plain `|` at the end of every row, the cursor and pen saved around it."""
    fence = "".join(f"{cup(y, COLS)}|" for y in range(1, ROWS + 1))
    return f"{data}{ESC}7{CSI}0m{fence}{ESC}8"


BLUE = f"{CSI}44m"
# The cursor in the middle of an 8x40 canvas: row 4, column 10 (x=9, y=3).
MIDDLE = canvas() + cup(4, 10)
FULL_ROWS = canvas(3, COLS)


CASES = [
    # -- C0 controls -----------------------------------------------------------------------
    Case("bs-moves-left", "abc\bX"),
    Case("bs-at-left-edge-stays", "\b\bX"),
    # After the last column is written, xterm's cursor is on it (a wrap pending) and BS moves
    # to the column before; tmux's is past the edge and BS lands on the last column.
    Case("bs-from-pending-wrap", "x" * COLS + "\bY", reference="x" * COLS + f"{cup(1, 79)}Y"),
    Case("bs-does-not-reach-previous-row", "ab\r\n\bX"),
    Case("ht-to-next-tab-stop", "a\tb\tc"),
    Case("ht-stops-at-last-column", "\t" * 12 + "X"),
    Case("ht-moves-without-erasing", "abcdefghijkl\rX\tY"),
    Case("lf-keeps-column", "abc\ndef"),
    Case("vt-is-a-line-feed", "abc\x0bdef"),
    Case("ff-is-a-line-feed", "abc\x0cdef"),
    Case("cr-returns-to-column-0", "abcdef\rXY"),
    Case("bel-prints-nothing", f"a{BEL}b"),
    Case("nul-and-del-print-nothing", "a\x00b\x7fc"),
    # Every C0 control without a visible effect (not CAN, SUB, ESC, SO, SI, nor the above).
    Case("other-c0-print-nothing", "a" + "".join(map(chr, _QUIET_C0)) + "b"),
    Case("lf-at-bottom-scrolls", numbered_lines(30)),
    Case("lf-at-bottom-scrolls-many", numbered_lines(200)),
    Case("so-si-switch-to-g1-line-drawing", f"{ESC})0a\x0eqqqk\x0fb"),
    Case("si-without-so-does-nothing", "a\x0fb"),
    Case("so-with-g1-ascii-draws-ascii", "a\x0eqb\x0fc"),
    # -- ESC sequences ---------------------------------------------------------------------
    Case("ind-moves-down-same-column", f"abc{ESC}Ddef"),
    Case("ind-at-bottom-scrolls", numbered_lines(24) + f"{ESC}Dx"),
    Case("nel-is-cr-lf", f"abc{ESC}Edef"),
    Case("nel-at-bottom-scrolls", numbered_lines(24) + f"{ESC}Ex"),
    Case("ri-moves-up", f"{cup(5, 5)}abc{ESC}Mdef"),
    Case("ri-at-top-scrolls-down", numbered_lines(5) + f"{cup(1, 3)}{ESC}Mx"),
    Case("hts-sets-a-tab-stop", f"{CSI}3g{cup(1, 13)}{ESC}H\r\tX"),
    Case(
        "decsc-decrc-restore-position-and-pen",
        f"{cup(5, 10)}{CSI}31;1;4m{ESC}7{CSI}H{CSI}0mhome{ESC}8restored",
    ),
    Case("decrc-without-decsc-homes", f"{cup(5, 10)}a{ESC}8x"),
    Case("decsc-saves-the-charset", f"{ESC}(0{ESC}7{ESC}(Bq{ESC}8q"),
    # tmux restores the cursor on the last column with no wrap pending.
    Case("decsc-from-pending-wrap", "x" * COLS + f"{ESC}7{cup(5, 5)}{ESC}8Y"),
    Case(
        "ris-resets-screen-pen-modes",
        f"junk{CSI}31m{CSI}?25l{CSI}5;10r{CSI}4h{ESC}(0{ESC}cafter q\r\n",
    ),
    # tmux stays on the alternate screen (cleared) after RIS.
    # tmux stays on the alternate screen after RIS; xterm's full reset ends it, as every other
    # mode: tmux draws that once told to leave first.
    Case(
        "ris-on-the-alternate-screen",
        f"main{CSI}?1049halt{ESC}cx",
        reference=f"main{CSI}?1049halt{CSI}?1049l{ESC}cx",
    ),
    Case("decaln-fills-with-e", f"{CSI}31m{CSI}5;10r{ESC}#8{cup(12, 40)}x"),
    Case("line-drawing-set-in-g0", f"{ESC}(0lqqk\r\nx  x\r\nmqqj{ESC}(Bq"),
    # Only the characters tmux and the DEC table draw the same way (tmux draws h and i as a
    # board and a lantern, and b-e and _ as themselves).
    Case("line-drawing-characters", f"{ESC}(0`afgjklmnopqrstuvwxyz{{|}}~{ESC}(B `"),
    Case("line-drawing-leaves-other-bytes", f"{ESC}(0ABC 123{ESC}(B"),
    Case("line-drawing-in-colour", f"{ESC}(0{CSI}32mlqk{CSI}0m{ESC}(B"),
    # xterm draws # as a pound sign in the UK set (ESC ( A); tmux ignores the designation.
    Case("uk-charset-is-ignored", f"{ESC}(A#{ESC}(B#"),
    # Only the line-drawing set changes what tmux draws: the other sets are ignored.
    Case("other-charset-designations-are-ignored", f"{ESC}(U{ESC}(K{ESC}*0{ESC}+0ab{ESC}(B"),
    Case("g1-designation-without-so-draws-ascii", f"{ESC})0q"),
    Case("unknown-esc-final-is-ignored", f"a{ESC}zb"),
    Case("keypad-modes-print-nothing", f"a{ESC}={ESC}>b"),
    Case("esc-with-intermediate-is-ignored", f"a{ESC} Fb{ESC}%Gc"),
    # -- CSI: cursor movement --------------------------------------------------------------
    Case("cuu", MIDDLE + f"{CSI}2Ax"),
    Case("cuu-default-is-1", MIDDLE + f"{CSI}Ax"),
    Case("cuu-0-is-1", MIDDLE + f"{CSI}0Ax"),
    Case("cuu-stops-at-top", MIDDLE + f"{CSI}99Ax"),
    Case("cud", MIDDLE + f"{CSI}2Bx"),
    Case("cud-stops-at-bottom", MIDDLE + f"{CSI}99Bx"),
    Case("cuf", MIDDLE + f"{CSI}5Cx"),
    Case("cuf-stops-at-right-edge", MIDDLE + f"{CSI}999Cx"),
    Case("cub", MIDDLE + f"{CSI}5Dx"),
    Case("cub-stops-at-left-edge", MIDDLE + f"{CSI}99Dx"),
    Case("cnl", MIDDLE + f"{CSI}2Ex"),
    Case("cpl", MIDDLE + f"{CSI}2Fx"),
    Case("cha", MIDDLE + f"{CSI}30Gx"),
    Case("cha-default-is-column-1", MIDDLE + f"{CSI}Gx"),
    Case("cup", f"x{CSI}5;10Hy"),
    Case("cup-default-is-home", MIDDLE + f"{CSI}Hx"),
    Case("cup-row-only", MIDDLE + f"{CSI}6Hx"),
    Case("cup-clamps-to-screen", f"{CSI}99;999Hx"),
    Case("hvp", f"{CSI}7;3fx"),
    Case("vpa", MIDDLE + f"{CSI}7dx"),
    # tmux ignores VPR and HPR; xterm documents them as relative CUD and CUF.
    Case("vpr", MIDDLE + f"{CSI}3ex", reference=MIDDLE + f"{CSI}3Bx"),
    Case("hpa", MIDDLE + f"{CSI}30`x"),
    Case("hpr", MIDDLE + f"{CSI}3ax", reference=MIDDLE + f"{CSI}3Cx"),
    Case("cuu-stops-at-top-margin", f"{CSI}5;15r{cup(10, 20)}{CSI}99Ax"),
    Case("cuu-above-region-stops-at-top", f"{CSI}5;15r{cup(3, 20)}{CSI}99Ax"),
    Case("cud-stops-at-bottom-margin", f"{CSI}5;15r{cup(10, 20)}{CSI}99Bx"),
    Case("cud-below-region-stops-at-bottom", f"{CSI}5;15r{cup(20, 20)}{CSI}99Bx"),
    Case("cnl-stops-at-bottom-margin", f"{CSI}5;15r{cup(10, 20)}{CSI}99Ex"),
    Case("cpl-stops-at-top-margin", f"{CSI}5;15r{cup(10, 20)}{CSI}99Fx"),
    # -- CSI: erasing ----------------------------------------------------------------------
    Case("ed-0-erases-below", MIDDLE + f"{CSI}J"),
    Case("ed-1-erases-above", MIDDLE + f"{CSI}1J"),
    Case("ed-2-erases-all-cursor-stays", MIDDLE + f"{CSI}2J"),
    Case("ed-3-keeps-the-screen", MIDDLE + f"{CSI}3J"),
    Case("el-0-erases-to-end", MIDDLE + f"{CSI}K"),
    Case("el-1-erases-to-start", MIDDLE + f"{CSI}1K"),
    Case("el-2-erases-row", MIDDLE + f"{CSI}2K"),
    Case("ech-erases-characters", MIDDLE + f"{CSI}5X"),
    Case("ech-default-is-1", MIDDLE + f"{CSI}X"),
    Case("ech-stops-at-right-edge", MIDDLE + f"{CSI}999X"),
    # tmux ignores the selective erases; xterm documents them as ED and EL sparing the cells
    # DECSCA protects, and none is protected here.
    *(
        Case(name, MIDDLE + f"{CSI}?{final}", reference=MIDDLE + f"{CSI}{final}")
        for name, final in [
            ("decsed-erases-below", "J"),
            ("decsed-2-erases-all", "2J"),
            ("decsel-erases-to-end", "K"),
            ("decsel-1-erases-to-start", "1K"),
        ]
    ),
    # xterm's cursor is on the last column (see bs-from-pending-wrap): EL erases it.
    Case("el-from-pending-wrap", "x" * COLS + f"{CSI}K", reference="x" * 79 + f"{CSI}K"),
    # -- CSI: inserting and deleting ---------------------------------------------------------
    Case("ich-inserts-blanks", MIDDLE + f"{CSI}5@"),
    Case("ich-default-is-1", MIDDLE + f"{CSI}@"),
    Case("ich-pushes-off-right-edge", FULL_ROWS + f"{cup(2, 5)}{CSI}3@"),
    # tmux does nothing when the count reaches past the edge; xterm blanks to the end.
    Case(
        "ich-more-than-the-row",
        FULL_ROWS + f"{cup(2, 5)}{CSI}999@",
        reference=FULL_ROWS + f"{cup(2, 5)}{CSI}K",
    ),
    Case("dch-deletes-characters", MIDDLE + f"{CSI}5P"),
    Case("dch-default-is-1", MIDDLE + f"{CSI}P"),
    Case("dch-full-width-row", FULL_ROWS + f"{cup(2, 5)}{CSI}3P"),
    Case("dch-more-than-the-row", MIDDLE + f"{CSI}999P"),
    # IL and DL move the cursor to the line home (ECMA-48; xterm sets the column to the left
    # margin first, even outside the margins, where nothing else happens); tmux leaves it in its
    # column. The reference adds a CR.
    *(
        Case(name, data, reference=data + "\r")
        for name, data in [
            ("il-inserts-lines", MIDDLE + f"{CSI}2L"),
            ("il-more-than-the-screen", MIDDLE + f"{CSI}99L"),
            ("dl-deletes-lines", MIDDLE + f"{CSI}2M"),
            ("dl-more-than-the-screen", MIDDLE + f"{CSI}99M"),
            ("il-within-margins", canvas() + f"{CSI}2;6r{cup(3, 4)}{CSI}2L"),
            ("dl-within-margins", canvas() + f"{CSI}2;6r{cup(3, 4)}{CSI}2M"),
        ]
    ),
    # tmux also inserts lines below the region; xterm inserts none outside the margins.
    Case(
        "il-outside-margins-does-nothing",
        canvas() + f"{CSI}2;6r{cup(8, 4)}{CSI}2Lx",
        reference=canvas() + f"{CSI}2;6r{cup(8, 4)}\rx",
    ),
    Case("su-scrolls-up", MIDDLE + f"{CSI}2S"),
    Case("sd-scrolls-down", MIDDLE + f"{CSI}2T"),
    Case("su-default-is-1", MIDDLE + f"{CSI}S"),
    Case("su-within-margins", canvas() + f"{CSI}2;6r{cup(4, 4)}{CSI}2S"),
    Case("sd-within-margins", canvas() + f"{CSI}2;6r{cup(4, 4)}{CSI}2T"),
    Case("su-more-than-the-screen", MIDDLE + f"{CSI}99S"),
    Case("rep-repeats-last-character", f"ab{CSI}5bc"),
    Case("rep-default-is-1", f"ab{CSI}bc"),
    # tmux repeats only ASCII characters, and never past the edge; ECMA-48 and xterm repeat
    # the preceding graphic character as if it were printed again.
    Case("rep-wide-character", f"日{CSI}3bc", reference="日日日日c"),
    Case("rep-in-colour", f"{CSI}31mx{CSI}0m{CSI}3b"),
    Case("rep-with-nothing-before", f"{CSI}3bx"),
    Case("rep-after-a-control", f"a\r{CSI}3b"),
    Case("rep-wraps", f"{cup(1, 78)}a{CSI}5b", reference=f"{cup(1, 78)}aaaaaa"),
    # -- CSI: tabs -------------------------------------------------------------------------
    Case("tbc-0-clears-stop-at-cursor", f"{CSI}9G{CSI}0g\r\tX"),
    Case("tbc-3-clears-all-stops", f"{CSI}3g\r\tX"),
    # tmux ignores CHT; xterm documents it as that many tabs.
    Case("cht-forward-tabs", f"{CSI}2IX", reference="\t\tX"),
    Case("cht-stops-at-last-column", f"{CSI}99IX", reference="\t" * 99 + "X"),
    Case("cbt-backward-tabs", f"{cup(1, 30)}{CSI}2ZX"),
    Case("cbt-stops-at-left-edge", f"{cup(1, 30)}{CSI}99ZX"),
    # -- scrolling margins and origin mode ---------------------------------------------------
    Case("decstbm-homes-cursor", f"{cup(5, 10)}{CSI}3;8rx"),
    Case("decstbm-lf-scrolls-region-only", canvas() + f"{CSI}2;5r{cup(5, 1)}\n\nx"),
    Case("decstbm-lf-below-region-at-bottom", canvas() + f"{CSI}2;5r{cup(24, 1)}x\n\ny"),
    Case("decstbm-ri-at-top-margin", canvas() + f"{CSI}3;6r{cup(3, 2)}{ESC}M{ESC}Mx"),
    Case("decstbm-default-is-whole-screen", f"{CSI}2;5r{CSI}r" + numbered_lines(26)),
    Case("decstbm-invalid-is-ignored", f"{cup(5, 10)}{CSI}6;3rx" + numbered_lines(26)),
    Case("decstbm-bottom-past-screen", f"{CSI}20;99r{cup(24, 1)}x\ny\nz"),
    Case("decstbm-wrap-at-region-bottom", f"{CSI}2;5r{cup(5, 75)}" + "abcdefghij" * 2),
    Case("decom-homes-to-region", f"{CSI}5;10r{CSI}?6hx"),
    Case("decom-cup-is-relative", f"{CSI}5;10r{CSI}?6h{CSI}2;3Hx"),
    Case("decom-cup-clamped-to-region", f"{CSI}5;10r{CSI}?6h{CSI}20;1Hx"),
    Case("decom-cuu-clamped-to-region", f"{CSI}5;10r{CSI}?6h{CSI}3;1H{CSI}99Ax"),
    Case("decom-vpa-is-relative", f"{CSI}5;10r{CSI}?6h{CSI}3dx"),
    Case("decom-reset-homes", f"{CSI}5;10r{CSI}?6h{CSI}3;3H{CSI}?6lx"),
    # tmux reports the cursor from the top of the screen in origin mode; xterm (as DEC's
    # manuals say) from the top margin. The reference asks where the same row of the screen is.
    Case(
        "decom-cursor-report-is-relative",
        f"{CSI}5;10r{CSI}?6h{CSI}3;4H{CSI}6n",
        answers=True,
        reference=f"{CSI}5;10r{cup(3, 4)}{CSI}6n{cup(7, 4)}",
    ),
    # DECSTBM homes the cursor: tmux to the top of the screen, xterm to the home position,
    # which origin mode puts on the top margin.
    Case("decom-survives-decstbm", f"{CSI}?6h{CSI}5;10rx", reference=f"{CSI}5;10r{CSI}?6hx"),
    # -- saving the cursor -----------------------------------------------------------------
    Case("sco-save-restore", f"{cup(5, 10)}{CSI}s{cup(1, 1)}a{CSI}ub"),
    Case("sco-restore-without-save", f"{cup(5, 10)}{CSI}ux"),
    # tmux ignores mode 1048; xterm documents it as DECSC (set) and DECRC (reset).
    Case(
        "decset-1048-saves-cursor",
        f"{cup(5, 5)}{CSI}?1048h{cup(1, 1)}a{CSI}?1048lX",
        reference=f"{cup(5, 5)}{ESC}7{cup(1, 1)}a{ESC}8X",
    ),
    # -- modes -----------------------------------------------------------------------------
    Case("irm-inserts", f"abcdef\r{CSI}4hXY{CSI}4lZ"),
    Case("irm-pushes-off-right-edge", FULL_ROWS + f"{cup(2, 1)}{CSI}4hXY"),
    Case("irm-wide-character", f"abc\r{CSI}4h日"),
    Case("decawm-off-overwrites-last-column", f"{CSI}?7l" + _RULER + "XYZ"),
    Case("decawm-off-then-on-wraps-again", f"{CSI}?7l" + _RULER + f"X{CSI}?7h\rabc" + "y" * 80),
    Case("autowrap-81st-character-wraps", "x" * COLS + "y"),
    Case("autowrap-exactly-full-row-then-crlf", "x" * COLS + "\r\nnext"),
    Case("pending-wrap-cleared-by-cr", "x" * COLS + "\rY"),
    Case("pending-wrap-cleared-by-cup", "x" * COLS + f"{cup(5, 5)}Y"),
    Case("pending-wrap-then-lf", "x" * COLS + "\nY"),
    Case("autowrap-at-bottom-scrolls", f"{cup(24, 1)}" + "x" * COLS + "yz"),
    Case("dectcem-hides-cursor", f"ab{CSI}?25l"),
    Case("dectcem-shows-cursor-again", f"ab{CSI}?25l{CSI}?25h"),
    Case("decckm-application-cursor-keys", f"a{CSI}?1h"),
    Case("decckm-off-again", f"a{CSI}?1h{CSI}?1l"),
    Case("ris-resets-decckm", f"a{CSI}?1h{ESC}c"),
    # tmux ignores DECSCNM (reverse video of the whole screen), and so does clive.
    Case("decscnm-is-ignored", f"{CSI}31mab{CSI}?5h"),
    Case("unknown-private-mode-is-ignored", f"a{CSI}?9999hb{CSI}?9999lc"),
    # tmux clears the screen on DECCOLM (programs send it on reset); xterm ignores it unless
    # allowed to change the width.
    Case("deccolm-clears-screen", f"abc{CSI}?3lX"),
    # tmux ignores DECSTR; xterm documents that it shows the cursor, ends insert mode and resets
    # the pen (as here), among other things.
    Case(
        "decstr-soft-reset",
        f"{CSI}31m{CSI}?25l{CSI}4h{CSI}!pab\rX",
        reference=f"{CSI}31m{CSI}?25l{CSI}4h{CSI}0m{CSI}?25h{CSI}4lab\rX",
    ),
    # -- alternate screen --------------------------------------------------------------------
    Case("alt-47-enter", f"main{CSI}?47halt"),
    Case("alt-47-leave-shows-main", f"main{CSI}?47halt{CSI}?47lX"),
    Case("alt-1047-enter", f"main{CSI}?1047halt"),
    Case("alt-1047-leave-shows-main", f"main{CSI}?1047halt{CSI}?1047lX"),
    Case("alt-1047-leave-clears-alt", f"{CSI}?1047halt{CSI}?1047l{CSI}?47h"),
    Case("alt-1049-enter-clears", f"{CSI}?1049halt1{CSI}?1049l{CSI}?1049hx"),
    Case("alt-1049-restores-cursor", f"{cup(5, 10)}main{CSI}?1049h{cup(1, 1)}alt{CSI}?1049lX"),
    Case("alt-1049-twice", f"main{CSI}?1049ha{CSI}?1049hb{CSI}?1049lX"),
    Case("alt-leave-when-on-main", f"main{CSI}?1049lX"),
    Case("alt-keeps-the-pen", f"{CSI}31m{CSI}?1049hred"),
    Case("alt-main-kept-while-scrolling-alt", f"main{CSI}?1049h" + numbered_lines(30)),
    Case("alt-main-scrolled-before", numbered_lines(30) + f"{CSI}?1049hx{CSI}?1049l"),
    # -- SGR ---------------------------------------------------------------------------------
    Case("sgr-bold", f"a{CSI}1mb"),
    Case("sgr-dim", f"a{CSI}2mb"),
    Case("sgr-italic", f"a{CSI}3mb"),
    Case("sgr-underline", f"a{CSI}4mb"),
    Case("sgr-blink", f"a{CSI}5mb"),
    Case("sgr-rapid-blink", f"a{CSI}6mb"),
    Case("sgr-reverse", f"a{CSI}7mb"),
    Case("sgr-hidden", f"a{CSI}8mb"),
    Case("sgr-strike", f"a{CSI}9mb"),
    Case("sgr-double-underline", f"a{CSI}21mb"),
    Case("sgr-overline-keeps-the-rest", f"{CSI}1;31ma{CSI}53mb{CSI}55mc"),
    Case("sgr-22-ends-bold-and-dim", f"{CSI}1;2ma{CSI}22mb"),
    Case("sgr-23-ends-italic", f"{CSI}3;1ma{CSI}23mb"),
    Case("sgr-24-ends-underline", f"{CSI}4;1ma{CSI}24mb"),
    Case("sgr-25-ends-blink", f"{CSI}5;1ma{CSI}25mb"),
    Case("sgr-27-ends-reverse", f"{CSI}7;1ma{CSI}27mb"),
    Case("sgr-28-ends-hidden", f"{CSI}8;1ma{CSI}28mb"),
    Case("sgr-29-ends-strike", f"{CSI}9;1ma{CSI}29mb"),
    Case("sgr-0-resets-everything", f"{CSI}1;2;3;4;5;7;9;31;44ma{CSI}0mb"),
    Case("sgr-empty-resets", f"{CSI}1;31ma{CSI}mb"),
    Case("sgr-empty-parameter-resets", f"{CSI}1;31ma{CSI};4mb"),
    Case("sgr-39-49-default-colours", f"{CSI}31;44ma{CSI}39mb{CSI}49mc"),
    Case("sgr-16-foregrounds", "".join(f"{CSI}{c}m{c}" for c in range(30, 38))),
    Case("sgr-16-bright-foregrounds", "".join(f"{CSI}{c}m{c}" for c in range(90, 98))),
    Case("sgr-16-backgrounds", "".join(f"{CSI}{c}m{c}" for c in range(40, 48))),
    Case("sgr-16-bright-backgrounds", "".join(f"{CSI}{c}m{c}" for c in range(100, 108))),
    Case("sgr-bold-colour-is-not-brightened", f"{CSI}1;31ma{CSI}22mb"),
    Case(
        "sgr-256-foregrounds",
        "".join(f"{CSI}38;5;{n}m{n:>4}" for n in (0, 1, 7, 8, 9, 15, 16, 21, 100, 196, 231, 232)),
    ),
    Case(
        "sgr-256-backgrounds",
        "".join(f"{CSI}48;5;{n}m{n:>4}" for n in (0, 3, 12, 15, 16, 46, 208, 231, 244, 255)),
    ),
    Case("sgr-256-index-1-is-not-sgr-31", f"{CSI}38;5;1ma{CSI}31mb"),
    Case("sgr-truecolour-semicolons", f"{CSI}38;2;255;128;0ma{CSI}48;2;1;2;3mb"),
    Case("sgr-truecolour-colons-with-colour-space", f"{CSI}38:2::255:128:0ma{CSI}48:2::9:8:7mb"),
    Case("sgr-truecolour-colons-without-colour-space", f"{CSI}38:2:255:128:0ma"),
    Case("sgr-256-colons", f"{CSI}38:5:208ma{CSI}48:5:27mb"),
    Case("sgr-colour-then-attributes", f"{CSI}38;5;208;1;4ma{CSI}38;2;1;2;3;3mb"),
    Case("sgr-many-attributes-at-once", f"{CSI}1;3;4;9;31;42mx"),
    Case(
        "sgr-58-underline-colour-keeps-the-rest",
        f"{CSI}4;31;1mA{CSI}58;5;196mB{CSI}58;2;1;2;3mC{CSI}58:2::9:8:7mD{CSI}59mE",
    ),
    Case("sgr-58-then-more-attributes", f"{CSI}58;5;3;1;32mx{CSI}58;2;1;2;3;3my"),
    Case("sgr-underline-styles-with-colons", f"{CSI}4:3ma{CSI}4:0mb{CSI}4:1mc{CSI}4:2md{CSI}24me"),
    # Malformed extended colours: tmux's readings (xterm documents none of these).
    Case("sgr-38-missing-colour-resets-foreground", f"{CSI}31ma{CSI}38;5mb"),
    Case("sgr-38-unknown-kind-skips-one", f"{CSI}31ma{CSI}38;9;1mb"),
    Case("sgr-256-index-out-of-range", f"{CSI}31ma{CSI}38;5;300mb"),
    Case("sgr-truecolour-component-out-of-range", f"{CSI}38;2;300;0;0ma"),
    # tmux drops a sequence of more than 24 parameters whole.
    Case("sgr-more-parameters-than-tmux-keeps", f"{CSI}{';'.join(['1'] * 40)}mx"),
    Case("sgr-private-marker-is-not-sgr", f"{CSI}31ma{CSI}>4;2mb"),
    Case("sgr-question-marker-is-not-sgr", f"{CSI}31ma{CSI}?4mb"),
    # -- background colour erase: every operation that brings blank cells --------------------
    Case("bce-ed-0", fenced(MIDDLE + f"{BLUE}{CSI}J")),
    Case("bce-ed-1", fenced(MIDDLE + f"{BLUE}{CSI}1J")),
    Case("bce-ed-2", fenced(MIDDLE + f"{BLUE}{CSI}2J")),
    Case("bce-el-0", fenced(MIDDLE + f"{BLUE}{CSI}K")),
    Case("bce-el-1", fenced(MIDDLE + f"{BLUE}{CSI}1K")),
    Case("bce-el-2", fenced(MIDDLE + f"{BLUE}{CSI}2K")),
    Case("bce-ech", fenced(MIDDLE + f"{BLUE}{CSI}5X")),
    Case("bce-ich", fenced(MIDDLE + f"{BLUE}{CSI}5@")),
    Case("bce-dch", fenced(MIDDLE + f"{BLUE}{CSI}5P")),
    # The CR: see il-inserts-lines.
    Case(
        "bce-il", fenced(MIDDLE + f"{BLUE}{CSI}2L"), reference=fenced(MIDDLE + f"{BLUE}{CSI}2L\r")
    ),
    Case(
        "bce-dl", fenced(MIDDLE + f"{BLUE}{CSI}2M"), reference=fenced(MIDDLE + f"{BLUE}{CSI}2M\r")
    ),
    Case("bce-su", fenced(MIDDLE + f"{BLUE}{CSI}2S")),
    Case("bce-sd", fenced(MIDDLE + f"{BLUE}{CSI}2T")),
    Case("bce-lf-at-bottom", fenced(numbered_lines(24) + f"{BLUE}\n\nx")),
    Case("bce-lf-at-region-bottom", fenced(canvas() + f"{CSI}2;5r{cup(5, 1)}{BLUE}\n\nx")),
    Case("bce-ri-at-top", fenced(canvas() + f"{cup(1, 1)}{BLUE}{ESC}M")),
    # A wrap at the bottom scrolls as IND does, which xterm fills with the background colour;
    # tmux leaves that new row plain. The reference wraps by CR LF.
    Case(
        "bce-wrap-at-bottom",
        fenced(numbered_lines(25) + "\r\n" + BLUE + "w" * 90),
        reference=fenced(numbered_lines(25) + "\r\n" + BLUE + "w" * 80 + "\r\n" + "w" * 10),
    ),
    Case("bce-256-colour", fenced(MIDDLE + f"{CSI}48;5;208m{CSI}K")),
    Case("bce-truecolour", fenced(MIDDLE + f"{CSI}48;2;10;20;30m{CSI}K")),
    Case("bce-takes-only-the-background", fenced(MIDDLE + f"{CSI}1;4;7;9;31;44m{CSI}K")),
    Case("bce-after-reset-is-default", fenced(MIDDLE + f"{BLUE}{CSI}0m{CSI}K")),
    Case("bce-reverse-without-background", fenced(MIDDLE + f"{CSI}7m{CSI}K")),
    # -- wide characters ---------------------------------------------------------------------
    Case("wide-cjk", "日本語x"),
    Case("wide-emoji", "😀x"),
    Case("wide-fullwidth-latin", "ＡＢx"),
    Case("wide-overwrite-left-half", "日本\ra"),
    # tmux's capture keeps the left half of 日 when its right half is overwritten, which no
    # terminal shows: xterm erases the whole character.
    Case("wide-overwrite-right-half", f"日本{CSI}2Ga", reference="日本\r a"),
    Case("wide-over-narrow", "abc\r日"),
    Case("wide-over-wide-offset", f"日本{CSI}2G語"),
    Case("wide-at-last-column-wraps", f"{cup(1, 80)}日x"),
    # tmux drops a wide character that cannot fit before the edge.
    Case("wide-at-last-column-without-autowrap", f"{CSI}?7l{cup(1, 79)}ab{cup(1, 80)}日"),
    Case("wide-ech-on-right-half", f"日本{CSI}2G{CSI}X"),
    Case("wide-dch-on-right-half", f"日本語{CSI}2G{CSI}P"),
    Case("wide-ich-on-right-half", f"日本{CSI}2G{CSI}@"),
    Case("wide-el-from-right-half", f"日本{CSI}2G{CSI}K"),
    Case("wide-cursor-on-right-half-then-text", f"日本{CSI}4Gx"),
    Case("wide-in-colour", f"{CSI}31;44m日{CSI}0mx"),
    # -- combining marks and clusters ----------------------------------------------------------
    Case("combining-acute", "e\u0301x"),
    Case("combining-two-marks", "a\u0308\u0301x"),
    Case("combining-at-column-0", "\u0301x"),
    Case("combining-after-cursor-move", f"ab{CSI}D\u0301x"),
    Case("combining-after-wide", "日\u0301x"),
    Case("combining-at-pending-wrap", "x" * 79 + "e\u0301Z"),
    Case("combining-keycap", "1\ufe0f\u20e3x"),
    # Marks that are nonspacing (Mn) join the cell before; spacing ones (Mc, like ि) take a
    # column of their own in tmux and xterm (glibc's and Markus Kuhn's wcwidth say 1).
    Case("indic-vowel-sign-u-joins", "कु x"),
    Case("indic-vowel-sign-i-takes-a-column", "कि x"),
    Case("indic-devanagari-word", "हिन्दी नमस्ते x"),
    Case("indic-tamil", "கொ x"),
    Case("thai-tone-mark", "ก่ x"),
    Case("hangul-conjoining-jamo", "\u1100\u1161 x"),
    Case("zwj-family", "👨\u200d👩\u200d👧x"),
    Case("zwj-rainbow-flag", "🏳\ufe0f\u200d🌈x"),
    Case("emoji-skin-tone", "👍🏽x"),
    # tmux (glibc) gives each regional indicator one column.
    Case("emoji-flag", "🇫🇷x"),
    Case("emoji-vs16-heart", "❤\ufe0fx"),
    Case("emoji-vs15", "☺\ufe0ex"),
    # -- found by differential fuzzing against tmux ------------------------------------------------
    Case("no-pending-wrap-without-autowrap", f"{CSI}?7l" + "x" * COLS + f"{CSI}?7hY"),
    Case("1049l-after-1047l-restores-the-cursor", f"{CSI}?1049h\t{CSI}?1047l{CSI}?1049l"),
    Case("1049l-after-1047l-restores-the-pen", f"{CSI}?1049h{CSI}31m\t{CSI}?1047l{CSI}?1049lx"),
    Case("broken-wide-character-leaves-a-plain-blank", f"{CSI}41m日本{CSI}0m{CSI}D#"),
    Case("wide-left-half-overwritten-leaves-a-plain-blank", f"x{CSI}41m日本{CSI}0m{CSI}2Ga"),
    Case("tab-keeps-a-pending-wrap", f"{cup(1, 80)}|\tn"),
    # -- the byte grammar --------------------------------------------------------------------
    Case("esc-inside-csi-starts-new-sequence", f"{CSI}1;{ESC}[5Hx"),
    Case("can-aborts-csi", f"ab{CSI}5\x18Cx"),
    # VT100s drew a checkerboard for SUB; tmux, like xterm, only cancels the sequence.
    Case("sub-aborts-csi", f"ab{CSI}5\x1aCx"),
    Case("can-aborts-esc", f"a{ESC}\x18b"),
    Case("c0-executed-inside-csi", f"abc{CSI}2\bCx"),
    Case("lf-executed-inside-csi", f"abc{CSI}1\nBx"),
    Case("cr-executed-inside-csi", f"ab{CSI}\r3Cx"),
    Case("lf-inside-cup", f"top{CSI}1\n;5Hx"),
    Case("del-inside-csi-is-ignored", f"ab{CSI}2\x7fCx"),
    Case("esc-esc", f"a{ESC}{ESC}[Cb"),
    Case("dcs-ignored-until-st", f"a{ESC}P1;2|xyz{ST}b"),
    Case("dcs-sixel-ignored", f"a{ESC}Pq#0;2;0;0;0#0~~~~$-{ST}b"),
    Case("dcs-bel-does-not-end-it", f"a{ESC}Pfoo{BEL}bar{ST}b"),
    # tmux reads on through CAN and SUB inside a DCS string; in DEC's parser (and xterm's)
    # they end it, and what follows is shown.
    Case("dcs-cut-by-can", f"a{ESC}Pfoo\x18b", reference="ab"),
    Case("dcs-cut-by-sub", f"a{ESC}Pfoo\x1ab", reference="ab"),
    # tmux's own passthrough (ESC doubled inside) is ignored whole when not allowed; DEC's
    # parser would end the string at the first ESC. Programs send it only inside tmux.
    Case("dcs-tmux-passthrough-is-ignored", f"a{ESC}Ptmux;{ESC}{ESC}[31m{ST}b"),
    # tmux takes an APC string as a title (as screen does); xterm ignores it: title unchecked.
    Case("apc-ignored", f"a{ESC}_Gf=100;xyz{ST}b"),
    Case("pm-ignored", f"a{ESC}^privacy{ST}b"),
    Case("sos-ignored", f"a{ESC}Xstring{ST}b"),
    Case("osc-title-with-bel", f"{OSC}2;hello{BEL}x", title=True),
    Case("osc-title-with-st", f"{OSC}2;hello{ST}x", title=True),
    Case("osc-0-sets-title", f"{OSC}0;both{BEL}x", title=True),
    Case("osc-1-leaves-title", f"{OSC}2;first{BEL}{OSC}1;icon{BEL}x", title=True),
    Case("osc-title-utf8", f"{OSC}2;héllo 日本{BEL}x", title=True),
    # tmux sets the title from an OSC that CAN cuts (DEC's parser dispatches it too).
    Case("osc-title-cut-by-can", f"{OSC}2;first{BEL}{OSC}2;abc\x18def", title=True),
    Case("osc-cut-by-escape-sequence", f"{OSC}2;abc{CSI}31mred"),
    Case("osc-longer-than-64k", f"{OSC}2;{'x' * 70000}{BEL}after", title=True),
    Case("osc-8-hyperlink", f"{OSC}8;;http://example.com{ST}link{OSC}8;;{ST} x"),
    Case("osc-52-clipboard", f"{OSC}52;c;aGVsbG8={BEL}x"),
    Case("osc-133-and-7-marks", f"{OSC}133;A{BEL}$ {OSC}133;B{BEL}{OSC}7;file://h/tmp{BEL}x"),
    Case("unknown-csi-finals-are-ignored", f"a{CSI}4ob{CSI}1;2;3}}c{CSI}5~d"),
    Case("csi-with-intermediate-is-ignored", f'a{CSI}2 qb{CSI}0"qc'),
    Case("csi-private-cuf-is-ignored", f"a{CSI}>5Cb"),
    Case("csi-device-attributes-draw-nothing", f"a{CSI}c{CSI}>c{CSI}=cb"),
    Case("dsr-cursor-position", f"{cup(5, 10)}ab{CSI}6n", answers=True),
    # tmux reports column 81 while a wrap is pending; xterm the last column, where its cursor is.
    Case(
        "dsr-cursor-at-pending-wrap",
        "x" * COLS + f"{CSI}6n",
        answers=True,
        reference="x" * 79 + f"{CSI}6nx",
    ),
    Case("dsr-status", f"{CSI}5n", answers=True),
    Case("parameter-over-9999-clamps", f"{CSI}99999Cx\r\n{CSI}65536Cy"),
    Case("cup-parameters-over-9999", f"{CSI}99999;99999Hx"),
    # tmux drops a sequence whose parameter overflows.
    Case("parameter-overflow-drops-sequence", f"{CSI}99999999999999999999Cx"),
    Case("empty-parameters-default", f"{CSI};5Hx{CSI}5;Hy"),
    Case("zero-parameters-are-one", f"{cup(5, 5)}{CSI}0;0Hx{CSI}0Cy"),
    Case("leading-zeros", f"{CSI}005;010Hx"),
    # tmux drops bytes that are not UTF-8; xterm shows U+FFFD for them, as clive does (the
    # model sees that something was there): tmux is shown the U+FFFD.
    Case("c1-raw-byte-shows-a-replacement", b"a\x9b5Cb", reference="a\ufffd5Cb"),
    Case("c1-as-utf8-is-not-a-control", "a\u009b5Cb"),
    Case(
        "invalid-utf8-shows-replacements",
        b"a\xffb\xe6\x97c\xc0\xafd",
        reference="a\ufffdb\ufffdc\ufffd\ufffdd",
    ),
]


@pytest.fixture(scope="module")
def tmux_renderings(tmp_path_factory) -> dict[str, Rendering]:
    """Every case as tmux shows it, rendered once, all cases at once."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not on PATH: the conformance corpus needs a real tmux")
    directory = tmp_path_factory.mktemp("conformance")
    renderings = render_in_tmux([case.payload(for_tmux=True) for case in CASES], directory)
    return {case.name: rendering for case, rendering in zip(CASES, renderings, strict=True)}


def test_case_names_are_unique():
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.tmux
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_sequence_shows_as_in_tmux(case: Case, tmux_renderings: dict[str, Rendering]):
    reference = tmux_renderings[case.name]
    answers: list[str] = []
    emulator = Emulator(COLS, ROWS, respond=answers.append)
    # As clive's Terminal decodes the pane's output.
    emulator.feed(case.payload(for_tmux=False).decode("utf-8", "replace"))
    screen = clive_screen(
        emulator.cells(),
        emulator.cursor,
        alternate_on=emulator.alt_screen,
        title=emulator.title,
        application_cursor_keys=emulator.app_cursor_keys,
    )
    difference = compare_styled_screens(reference.screen, screen, title=case.title)
    if case.answers and "".join(answers) != reference.answers:
        difference = (difference or "") + (
            f"\nanswers: tmux {reference.answers!r}, clive {''.join(answers)!r}"
        )
    if difference is not None and case.reference is not None:
        difference = "(tmux drew what xterm documents, from other bytes)\n" + difference
    assert difference is None, difference
