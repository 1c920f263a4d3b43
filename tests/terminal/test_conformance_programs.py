"""Real programs look the same in clive as in tmux: text, colours, attributes and cursor.

Each test drives a program in a tmux pane and in clive's Terminal (a `Pair`: same size, TERM,
HOME, locale and files), with the same keys, and compares both screens whole at checkpoints.
What changes by itself is kept off the screen: no clocks (watch -t), no meters or other
processes in htop (a fixed htoprc in the test's HOME, one process of the test's own), no free
space or random hints in mc, fixed dates in git, no timings in progress bars.
A program that is not installed skips its test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tmux_reference import FIXED_GIT_IDENTITY, Pair

pytestmark = [pytest.mark.tmux, pytest.mark.slow]

# The Python that runs the tests has tqdm, rich and IPython (the test extras).
PYTHON = sys.executable
FIXED_TIME = 1767323045  # 2026-01-02 03:04:05 UTC


def require(*programs: str) -> None:
    """Skip the test when one of `programs` is not installed."""
    for program in programs:
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed")


@pytest.fixture
def pair(tmux_pane, tmp_path):
    both = Pair(tmux_pane, tmp_path)
    yield both
    both.close()


def git_repository(directory: Path, home: Path, commits: int) -> None:
    """A repository in `directory` with `commits` commits of `notes.txt`, at fixed dates."""
    env = {**FIXED_GIT_IDENTITY, "PATH": os.environ["PATH"], "HOME": str(home)}
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=directory, check=True, env=env)
    for i in range(commits):
        lines = [f"line {n} of version {i if n % 4 == 0 else 0}" for n in range(12)]
        (directory / "notes.txt").write_text("\n".join(lines) + "\n")
        subprocess.run(["git", "add", "."], cwd=directory, check=True, env=env)
        subprocess.run(
            ["git", "commit", "-q", "-m", f"change number {i}"], cwd=directory, check=True, env=env
        )


def fixed_tree(root: Path) -> Path:
    """`root/fixed/tree`: a few files and a directory, every date fixed (shown by mc, ncdu)."""
    tree = root / "fixed" / "tree"
    (tree / "docs").mkdir(parents=True)
    (tree / "docs" / "guide.md").write_text("# Guide\n" * 300)
    (tree / "data.bin").write_bytes(bytes(range(256)) * 64)
    (tree / "readme.txt").write_text("hello\n")
    (tree / "run.sh").write_text("#!/bin/sh\necho run\n")
    (tree / "run.sh").chmod(0o755)
    for path in [*tree.rglob("*"), tree, tree.parent]:
        os.utime(path, (FIXED_TIME, FIXED_TIME))
    return tree


def test_htop_with_a_fixed_config(pair):
    require("htop")
    config = pair.home / ".config" / "htop"
    config.mkdir(parents=True)
    (config / "htoprc").write_text(HTOPRC)
    process = subprocess.Popen(["sleep", "600"])
    try:
        pair.line(f"htop -p {process.pid}")
        pair.compare("sleep 600", styles=True)
        pair.keys("F2")  # the setup screen: menus, lists, colours
        pair.compare("Setup", styles=True)
        pair.keys("Escape")
        pair.compare("sleep 600", styles=True)
        pair.keys("q")
        pair.compare(rf"\$ htop -p {process.pid}\n\$", styles=True)
    finally:
        process.kill()
        process.wait()


HTOPRC = textwrap.dedent(
    """\
    htop_version=3.2.2
    config_reader_min_version=3
    fields=0 48 1
    hide_kernel_threads=1
    hide_userland_threads=1
    show_program_path=0
    highlight_base_name=1
    highlight_changes=0
    header_margin=1
    screen_tabs=1
    color_scheme=0
    enable_mouse=0
    delay=100
    hide_function_bar=0
    header_layout=one_100
    column_meters_0=Hostname Blank
    column_meter_modes_0=2 2
    tree_view=0
    sort_key=0
    sort_direction=1
    screen:Main=PID USER Command
    .sort_key=PID
    .tree_sort_key=PID
    .tree_view=0
    .sort_direction=1
    .tree_sort_direction=1
    """
)


def test_nano_edits_and_asks_before_quitting(pair):
    require("nano")
    pair.write("notes.py", "def greet(name):\n    return f'hello {name}'\n\n# the end\n")
    pair.line("nano notes.py")
    pair.compare("the end", styles=True)
    pair.keys("Down", "Down", "End")
    pair.text("# a comment added by the test")
    pair.compare("added by the test", styles=True)
    pair.keys("C-k")
    pair.compare("Cut 1 line|the end", styles=True)
    pair.keys("C-x")
    pair.compare("Save modified buffer", styles=True)
    pair.keys("n")
    pair.compare(r"\$ nano notes.py\n\$", styles=True)


def test_midnight_commander_panels_and_viewer(pair, tmp_path):
    require("mc")
    tree = fixed_tree(tmp_path)
    config = pair.home / ".config" / "mc"
    config.mkdir(parents=True)
    (config / "ini").write_text(
        "[Midnight-Commander]\nauto_save_setup=false\nconfirm_exit=false\ndrop_menus=true\n"
        "[Layout]\nmessage_visible=false\nfree_space=false\n"
    )
    pair.line(f"cd {tree} && mc -u")
    pair.compare("readme.txt", styles=True)
    pair.keys("Down", "Down", "Down")  # from .. to readme.txt
    pair.compare("readme.txt", styles=True)
    pair.keys("F3")  # the internal viewer
    pair.compare("^hello", styles=True)
    pair.keys("F10")
    pair.compare("run.sh", styles=True)
    pair.keys("Tab", "Down")
    pair.compare("run.sh", styles=True)
    pair.keys("F9")  # the menus; mc takes a lone Escape only after a delay: F10 closes them
    pair.compare("Listing format", styles=True)
    pair.keys("F10")
    pair.compare("run.sh", styles=True)
    pair.keys("F10")
    pair.compare(r"mc -u\n+\$", styles=True)


def test_emacs_in_the_terminal(pair):
    require("emacs")
    pair.write("notes.txt", "first line\nsecond line\n")
    pair.line("emacs -nw -Q notes.txt")
    pair.compare(r"notes\.txt", styles=True)
    pair.keys("M->")
    pair.text("added by the test")
    pair.compare("added by the test", styles=True)
    pair.keys("C-x", "2")  # two windows, two mode lines
    pair.compare(r"notes\.txt(.|\n)*notes\.txt", styles=True)
    pair.keys("C-x", "1")
    # Quit without saving, and without the save prompt (which shows each side's own path).
    pair.keys("M-:")
    pair.line("(kill-emacs)")
    pair.compare(r"\$ emacs -nw -Q notes.txt\n\$", styles=True)


def test_tig_browses_history(pair):
    require("tig", "git")
    for directory in pair.dirs.values():
        git_repository(directory, pair.home, commits=30)
    pair.line("tig")
    pair.compare("change number 29", styles=True)
    pair.keys("Down", "Down")
    pair.compare("change number 27", styles=True)
    pair.keys("Enter")  # the diff in a split view
    pair.compare("diff --git", styles=True)
    pair.keys("q", "q")
    pair.compare(r"\$ tig\n\$", styles=True)


def test_ncdu_scans_and_browses(pair, tmp_path):
    require("ncdu")
    tree = fixed_tree(tmp_path)
    pair.line(f"ncdu {tree}")
    pair.compare("readme.txt", styles=True)
    pair.keys("Down", "Enter")
    pair.compare("guide.md", styles=True)
    pair.keys("q")
    pair.compare(rf"\$ ncdu {tree}\n\$", styles=True)


def test_w3m_renders_html(pair):
    require("w3m")
    pair.write("page.html", W3M_PAGE)
    pair.line("w3m -no-mouse -o use_history=0 page.html")
    pair.compare("Conformance", styles=True)
    pair.keys("Tab")  # to the first link
    pair.compare("Conformance", styles=True)
    pair.keys("q", "y")
    pair.compare(r"page\.html\n\$", styles=True)


W3M_PAGE = textwrap.dedent(
    """\
    <html><head><title>Conformance</title></head><body>
    <h1>Conformance</h1>
    <p>Some <b>bold</b>, <u>underlined</u> and <a href="other.html">linked</a> text.</p>
    <table border="1"><tr><th>Name</th><th>Count</th></tr>
    <tr><td>alpha</td><td>1</td></tr><tr><td>beta</td><td>22</td></tr></table>
    <ul><li>one</li><li>two</li></ul>
    <pre>  preformatted   text</pre>
    </body></html>
    """
)


def test_dialog_menu(pair):
    require("dialog")
    pair.line("dialog --title Fruit --menu 'Pick one' 14 44 4 1 Apple 2 Banana 3 Cherry 2>choice")
    pair.compare("Cherry", styles=True)
    pair.keys("Down", "Down")
    pair.compare("Cherry", styles=True)
    pair.keys("Enter")
    pair.line("clear; cat choice; echo")
    pair.compare(r"^3\n\$", styles=True)


def test_ipython_session(pair):
    pytest.importorskip("IPython")
    # History in memory: the two sessions share a HOME, and a shared history file would let
    # one suggest (greyed, as you type) what the other typed.
    pair.line(
        f"{PYTHON} -m IPython --no-banner --colors=Linux --no-confirm-exit"
        " --HistoryManager.hist_file=:memory:"
    )
    pair.compare(r"In \[1\]", styles=True)
    pair.line("numbers = [n * n for n in range(5)]")
    pair.compare(r"In \[2\]", styles=True)
    pair.line("numbers")
    pair.compare(r"Out\[2\]", styles=True)
    pair.line("def twice(x):")
    pair.compare(r"\.\.\.", styles=True)
    pair.line("return 2 * x")
    pair.keys("Enter")
    pair.compare(r"In \[4\]", styles=True)
    pair.line("twice(21)")
    pair.compare(r"Out\[4\]: 42", styles=True)
    pair.line("exit")
    pair.compare(r"exit\n\$", styles=True)


def test_tqdm_progress_bars(pair):
    pytest.importorskip("tqdm")
    pair.write("bars.py", TQDM_SCRIPT)
    pair.line(f"{PYTHON} bars.py")
    pair.compare("all done", styles=True)


# No rate, no elapsed time: only what is the same on every run.
TQDM_SCRIPT = textwrap.dedent(
    """\
    from tqdm import tqdm

    layout = "{l_bar}{bar}| {n_fmt}/{total_fmt}"
    for outer in tqdm(range(3), desc="outer", bar_format=layout, position=0, mininterval=0):
        for inner in tqdm(range(40), desc=f"inner {outer}", bar_format=layout, position=1,
                          leave=False, mininterval=0, colour="green"):
            pass
    for _ in tqdm(range(200), desc="plain", bar_format=layout, ascii=True, mininterval=0):
        pass
    print("all done")
    """
)


def test_rich_table_and_progress(pair):
    pytest.importorskip("rich")
    pair.write("fancy.py", RICH_SCRIPT)
    pair.line(f"COLORTERM=truecolor {PYTHON} fancy.py")
    pair.compare("all done", styles=True)


RICH_SCRIPT = textwrap.dedent(
    """\
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
    from rich.table import Table

    console = Console()
    table = Table(title="Planets", caption="three of eight")
    table.add_column("Name", style="bold cyan")
    table.add_column("Moons", justify="right", style="magenta")
    table.add_column("Rings", style="italic green")
    table.add_row("Mercury", "0", "no")
    table.add_row("Jupiter", "95", "[reverse]faint[/]")
    table.add_row("Saturn", "146", "[underline #ff8700]yes[/]")
    console.print(table)
    columns = (TextColumn("[bold blue]{task.description}"), BarColumn(), TaskProgressColumn())
    with Progress(*columns, console=console, auto_refresh=False) as progress:
        first = progress.add_task("copying", total=50)
        second = progress.add_task("checking", total=50)
        for step in range(50):
            progress.advance(first)
            if step % 2:
                progress.advance(second)
            progress.refresh()
    console.print("[bold green]all done[/] [dim]in no time[/]")
    """
)


def test_watch_without_title(pair):
    require("watch")
    pair.write(
        "status.sh", "printf '\\033[32mgreen\\033[0m \\033[1;31mbold red\\033[0m\\n'; seq 3\n"
    )
    pair.line("watch -t -c -n 1 sh status.sh")
    pair.compare("bold red", styles=True)
    pair.keys("C-c")
    pair.compare(r"watch -t -c -n 1 sh status.sh\n\$", styles=True)


def test_git_add_patch(pair):
    require("git")
    for directory in pair.dirs.values():
        git_repository(directory, pair.home, commits=1)
        text = (directory / "notes.txt").read_text().splitlines()
        text[1], text[10] = "line 1 changed", "line 10 changed"
        (directory / "notes.txt").write_text("\n".join(text) + "\n")
    pair.line("git add -p")
    pair.compare(r"Stage this hunk", styles=True)
    pair.line("y")
    pair.compare(r"\(2/2\) Stage this hunk", styles=True)
    pair.line("n")
    pair.compare(r"^\$$", styles=True)
    pair.line("git status --short")
    pair.compare(r"^MM notes\.txt", styles=True)


def test_readline_editing_across_wrapped_lines(pair):
    words = " ".join(f"word{n:02d}" for n in range(24))  # 167 columns: three rows at 80
    pair.text(f"echo {words}")
    pair.compare("word23", styles=True)
    pair.keys("C-a")
    pair.compare("word23", styles=True)
    pair.text("X=1 ")  # inserting at the start re-wraps every row
    pair.compare("X=1 echo", styles=True)
    pair.keys("C-e")
    pair.compare("word23", styles=True)
    pair.keys(*["Left"] * 30)  # back across a row boundary
    pair.compare("word23", styles=True)
    pair.keys(*["BSpace"] * 9)
    pair.compare("word23", styles=True)
    pair.keys("M-b", "M-b", "C-k")
    pair.compare(r"word1\d\s*$", styles=True)
    pair.keys("Home", "C-d", "C-d", "C-d", "C-d")
    pair.compare("echo word00", styles=True)
    pair.keys("Enter")
    pair.compare(r"word16\n\$$", styles=True)
    pair.keys("Up")  # the long line again, from history
    pair.compare(r"word16\n\$ echo word00", styles=True)
    pair.keys("C-u")
    pair.compare(r"word16\n\$$", styles=True)
