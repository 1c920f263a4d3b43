"""Gathering a session written on another machine (``clive.experiments.gather``): what grew
travels as its new bytes, what was rewritten as a whole, and the end makes the copy exact."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_profile import examples

from clive.experiments import gather
from clive.experiments.gather import Gatherer, apply, digests


def _ship(gatherer: Gatherer, head: Path) -> list:
    pieces, marks = gatherer.pieces()
    apply(head, pieces)
    gatherer.sent(marks)
    return pieces


def _finish(gatherer: Gatherer, head: Path) -> None:
    pieces, gone = gatherer.final(digests(head))
    apply(head, pieces)
    gather.remove(head, gone)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_growing_log_travels_as_its_new_bytes(tmp_path):
    node, head = tmp_path / "node" / "s", tmp_path / "head"
    node.mkdir(parents=True)
    log = node / "events.jsonl"
    log.write_bytes(b"one\n")
    assert _ship(Gatherer(node), head) == [("events.jsonl", -1, b"one\n")]
    gatherer = Gatherer(node)
    _ship(gatherer, head)
    with open(log, "ab") as file:
        file.write(b"two\n")
    assert _ship(gatherer, head) == [("events.jsonl", 4, b"two\n")]
    assert _ship(gatherer, head) == []  # nothing changed: nothing travels
    assert (head / "events.jsonl").read_bytes() == b"one\ntwo\n"


def test_a_file_rewritten_travels_whole(tmp_path):
    node, head = tmp_path / "node", tmp_path / "head"
    node.mkdir()
    info = node / "session.json"
    info.write_bytes(b'{"a": 1}')
    gatherer = Gatherer(node)
    _ship(gatherer, head)
    replacement = node / "session.json.tmp"
    replacement.write_bytes(b'{"b": 22}')  # bigger, and a new file: not an append
    os.replace(replacement, info)
    assert _ship(gatherer, head) == [("session.json", -1, b'{"b": 22}')]
    # Grown in place but its start changed: whole too.
    with open(info, "r+b") as file:
        file.write(b'{"c": 333}')
    assert _ship(gatherer, head) == [("session.json", -1, b'{"c": 333}')]
    assert (head / "session.json").read_bytes() == b'{"c": 333}'


def test_the_end_makes_the_copy_exact(tmp_path):
    node, head = tmp_path / "node", tmp_path / "head"
    (node / "s" / "harness").mkdir(parents=True)
    (node / "s" / "log").write_bytes(b"abcd")
    (node / "s" / "harness" / "copy").write_bytes(b"scratch")
    gatherer = Gatherer(node)
    _ship(gatherer, head)
    with open(node / "s" / "log", "r+b") as file:
        file.write(b"ABCD")  # same size, same inode: a look cannot tell
    (node / "s" / "harness" / "copy").unlink()
    (head / "other-start").mkdir()  # another start of the worker, gathered beside it
    (head / "other-start" / "log").write_bytes(b"kept")
    _finish(gatherer, head)
    assert _tree(head) == {"s/log": b"ABCD", "other-start/log": b"kept"}


def test_a_big_file_travels_in_pieces(tmp_path, monkeypatch):
    monkeypatch.setattr(gather, "PIECE_BYTES", 10)
    node, head = tmp_path / "node", tmp_path / "head"
    node.mkdir()
    (node / "cast").write_bytes(b"x" * 25)
    gatherer = Gatherer(node)
    assert [(p[0], p[1], len(p[2])) for p in _ship(gatherer, head)] == [
        ("cast", -1, 10), ("cast", 10, 10), ("cast", 20, 5),
    ]  # fmt: skip
    with open(node / "cast", "ab") as file:
        file.write(b"y" * 12)
    assert [(p[1], len(p[2])) for p in _ship(gatherer, head)] == [(25, 10), (35, 2)]
    assert (head / "cast").read_bytes() == b"x" * 25 + b"y" * 12


@pytest.mark.parametrize("path", ["../escape", "/etc/passwd", "a/../../b", ""])
def test_a_piece_outside_the_directory_is_refused(tmp_path, path):
    with pytest.raises(ValueError, match="not a path inside"):
        apply(tmp_path / "head", [(path, -1, b"x")])
    assert not (tmp_path / "escape").exists()


# What a session does to its files: append, rewrite, replace, truncate, remove.
_steps = st.lists(
    st.tuples(
        st.sampled_from(["append", "rewrite", "replace", "truncate", "remove", "look"]),
        st.sampled_from(["a", "b", "d/c"]),
        st.binary(max_size=40),
    ),
    max_size=25,
)


@settings(max_examples=examples(60), deadline=None)
@given(steps=_steps)
def test_whatever_the_files_went_through_the_end_is_exact(tmp_path_factory, steps):
    root = tmp_path_factory.mktemp("gather")
    node, head = root / "node", root / "head"
    node.mkdir()
    gatherer = Gatherer(node)
    for action, name, data in steps:
        path = node / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if action == "append":
            with open(path, "ab") as file:
                file.write(data)
        elif action == "rewrite":
            with open(path, "r+b" if path.exists() else "wb") as file:
                file.write(data)
        elif action == "replace":
            path.with_suffix(".new").write_bytes(data)
            os.replace(path.with_suffix(".new"), path)
        elif action == "truncate":
            path.write_bytes(data[:3])
        elif action == "remove":
            path.unlink(missing_ok=True)
        else:
            _ship(gatherer, head)
    _finish(gatherer, head)
    assert _tree(head) == _tree(node)


def test_a_send_that_failed_is_sent_again(tmp_path):
    node, head = tmp_path / "node", tmp_path / "head"
    node.mkdir()
    (node / "log").write_bytes(b"one\n")
    gatherer = Gatherer(node)
    gatherer.pieces()  # lost on the way: never confirmed
    assert _ship(gatherer, head) == [("log", -1, b"one\n")]


def test_the_harness_s_copies_of_trees_are_not_gathered(tmp_path):
    node, head = tmp_path / "node", tmp_path / "head"
    (node / "s" / "harness" / "tree-3-0").mkdir(parents=True)
    (node / "s" / "harness" / "tree-3-0" / "checkpoint.bin").write_bytes(b"x" * 100)
    (node / "s" / "harness" / "repo.git").mkdir()
    (node / "s" / "harness" / "repo.git" / "HEAD").write_bytes(b"ref")
    _ship(Gatherer(node), head)
    assert _tree(head) == {"s/harness/repo.git/HEAD": b"ref"}
