"""Secrets never reach disk: known values and key-shaped strings, whole or cut in pieces."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_profile import examples

from clive.session._output import PendingOutput
from clive.session.redact import HOLD_LIMIT, REDACTED, Redactor

ANTHROPIC = "sk-ant-api03-" + "Ab3_x-" * 15
OPENAI = "sk-proj-" + "Zq9" * 16
AWS_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GITHUB = "ghp_" + "a1B2" * 9
GITHUB_PAT = "github_pat_" + "11ABCDEFG" * 4
HF = "hf_" + "abcdEFGH12" * 4


def test_key_shapes_are_redacted():
    redactor = Redactor(from_environment=False)
    text = (
        f"ANTHROPIC={ANTHROPIC} openai {OPENAI}\n{AWS_ID}\n"
        f"aws_secret_access_key = {AWS_SECRET}\ntoken: {GITHUB} {GITHUB_PAT} {HF}"
    )
    redacted = redactor.redact(text)
    for secret in (ANTHROPIC, OPENAI, AWS_ID, AWS_SECRET, GITHUB, GITHUB_PAT, HF):
        assert secret not in redacted
    assert "aws_secret_access_key = " + REDACTED in redacted
    assert redacted.count(REDACTED) == 7


def test_ordinary_text_is_left_alone():
    redactor = Redactor(from_environment=False)
    text = "sk-learn is fine; task-ant; AKIA; the ghp_ prefix alone; sha 3f2a9c1d"
    assert redactor.redact(text) == text


def test_credential_variables_of_the_harness_are_redacted(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "not-a-key-shape-but-secret-123")
    monkeypatch.setenv("OPENAI_API_KEY", "another secret value")
    redactor = Redactor()
    assert redactor.redact("x not-a-key-shape-but-secret-123 y") == f"x {REDACTED} y"
    assert redactor.redact("another secret value!") == f"{REDACTED}!"


def test_a_secret_is_redacted_in_its_json_escaped_form_too():
    redactor = Redactor(['pa"ss\\word'], from_environment=False)
    line = json.dumps({"data": 'typed pa"ss\\word here'})
    assert "word" not in redactor.redact(line)
    json.loads(redactor.redact(line))  # still valid JSON


def test_short_values_are_not_treated_as_secrets():
    redactor = Redactor(["ab", "   "], from_environment=False)
    assert redactor.redact("ab cd") == "ab cd"


def _written(events: list[tuple[float, str]]) -> str:
    return "".join(text for _, text in events)


def _through_stream(redactor: Redactor, pieces: list[str]) -> str:
    """``pieces`` read one after the other, as the session writer sends them to the cast."""
    output = PendingOutput(redactor, cols=200)
    out = ""
    for t, piece in enumerate(pieces):
        output.add(float(t), piece)
        out += _written(output.take())
    return out + _written(output.take_all())


def test_a_key_cut_across_pieces_is_still_redacted():
    redactor = Redactor(from_environment=False)
    text = f"export KEY={ANTHROPIC}\n"
    for cut in range(1, len(text)):
        out = _through_stream(redactor, [text[:cut], text[cut:]])
        assert ANTHROPIC[:16] not in out, cut
        assert out == redactor.redact(text)


def test_an_aws_secret_whose_name_and_value_arrive_apart_is_redacted():
    redactor = Redactor(from_environment=False)
    out = _through_stream(redactor, ["aws_secret_access_key =", " ", AWS_SECRET, "\n"])
    assert AWS_SECRET not in out


# What the streamed text is made of: keys, a known secret, a name a secret is assigned to.
_PIECES = [
    "plain text ",
    "\r\n",
    f" {ANTHROPIC}",
    f" {GITHUB}",
    "hunter2!pw",
    " x=",
    "é",
    " DB_PASSWORD=",
]


@settings(max_examples=examples(300), deadline=None)
@given(
    st.lists(st.sampled_from(_PIECES)),
    st.lists(st.integers(min_value=0, max_value=400), max_size=8),
)
def test_streamed_redaction_equals_redacting_the_whole(parts, cuts):
    redactor = Redactor(["hunter2!pw"], from_environment=False)
    text = "".join(parts)
    points = sorted({c for c in cuts if c < len(text)})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    out = _through_stream(redactor, pieces)
    assert out == redactor.redact(text)
    for secret in (ANTHROPIC, GITHUB, "hunter2!pw"):
        assert secret not in out


# -- key shapes at word boundaries, AWS's named secrets -------------------------------------------


def test_a_key_prefix_inside_a_word_is_left_alone():
    redactor = Redactor(from_environment=False)
    text = (
        "disk-usage-report-for-server-0001 task-ask-questions-of-the-scheduler "
        "high_github_pat_of_the_road_to_somewhere ohf_abcdefghijklmnopqrstuvwxyz01234"
    )
    assert redactor.redact(text) == text
    for before in ("", " ", "=", '"', ":", "/", "(", "\n"):
        assert redactor.redact(f"{before}{ANTHROPIC}") == f"{before}{REDACTED}", before


def test_aws_sts_json_and_session_tokens_are_redacted():
    redactor = Redactor(from_environment=False)
    token = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+abc=="
    sts = json.dumps({"Credentials": {"SecretAccessKey": AWS_SECRET, "SessionToken": token}})
    redacted = redactor.redact(sts)
    assert AWS_SECRET not in redacted and token not in redacted
    assert json.loads(redacted) == {
        "Credentials": {"SecretAccessKey": REDACTED, "SessionToken": REDACTED}
    }
    ini = f"aws_session_token = {token}\nAWS_SESSION_TOKEN={token}\n"
    assert redactor.redact(ini) == f"aws_session_token = {REDACTED}\nAWS_SESSION_TOKEN={REDACTED}\n"


# -- escape sequences inside a secret -------------------------------------------------------------

RED, RESET = "\x1b[01;31m\x1b[K", "\x1b[m\x1b[K"


def test_a_key_cut_by_colour_codes_is_redacted_and_the_codes_kept():
    redactor = Redactor(["hunter2!pw"], from_environment=False)
    coloured = ANTHROPIC.replace("Ab3", f"{RED}Ab3{RESET}")
    text = f"token {coloured} and {RED}marker{RESET} hun{RED}ter2{RESET}!pw\n"
    redacted = redactor.redact(text)
    plain = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", redacted)
    assert plain == f"token {REDACTED} and marker {REDACTED}\n"
    assert f"{RED}marker{RESET}" in redacted, "colours outside a secret stay where they were"
    # The codes inside a secret follow it: the colours are left as the program left them.
    assert redacted.count(RED) == text.count(RED) and redacted.count(RESET) == text.count(RESET)


def test_a_key_in_a_window_title_is_redacted():
    redactor = Redactor(from_environment=False)
    assert ANTHROPIC not in redactor.redact(f"\x1b]0;export KEY={ANTHROPIC}\x07$ ")


@settings(max_examples=examples(300), deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=len(ANTHROPIC)), max_size=4),
    st.lists(st.integers(min_value=0, max_value=300), max_size=6),
)
def test_streamed_redaction_of_coloured_text_equals_redacting_the_whole(colours, cuts):
    redactor = Redactor(from_environment=False)
    key = ANTHROPIC
    for at in sorted(colours, reverse=True):
        key = key[:at] + RED + key[at:at] + RESET + key[at:]
    text = f"{RED}x{RESET} token {key}\r\n$ "
    points = sorted({c for c in cuts if c < len(text)})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    out = _through_stream(redactor, pieces)
    assert out == redactor.redact(text)
    assert ANTHROPIC not in re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", out)
    assert out.startswith(f"{RED}x{RESET} token ")


def test_an_escape_sequence_still_arriving_is_held_back():
    redactor = Redactor(from_environment=False)
    safe, held = redactor.split_safe("done \x1b[01;3")
    assert (safe, held) == ("done ", "\x1b[01;3")


# -- a key the terminal wrapped -------------------------------------------------------------------


def test_a_key_wrapped_across_screen_rows_is_redacted_whole():
    redactor = Redactor(["harness-secret-value-0123456789"], from_environment=False)
    cols = 20
    screen = ["$ cat key", "." * 10 + ANTHROPIC[:10]]
    rest = ANTHROPIC[10:]
    screen += [rest[i : i + cols] for i in range(0, len(rest), cols)]
    screen += ["." * 13 + " harness", "-secret-value-0123456789", "$ "]
    redacted = redactor.redact_rows("\n".join(screen), cols)
    assert redacted == f"$ cat key\n{'.' * 10}{REDACTED}\n{'.' * 13} {REDACTED}\n$ "


def test_rows_that_do_not_fill_the_screen_are_not_joined():
    redactor = Redactor(["abcdef"], from_environment=False)
    assert redactor.redact_rows("abc\ndef\n", 10) == "abc\ndef\n"
    assert redactor.redact_rows("0123456abc\ndef", 10) == f"0123456{REDACTED}"


# -- keys pressed one by one ----------------------------------------------------------------------


def test_keys_that_spell_a_secret_become_one_redacted_item():
    redactor = Redactor(["hunter2!pw"], from_environment=False)
    assert redactor.redact_items(["C-u", *"hunter2!pw", "Enter"]) == ["C-u", REDACTED, "Enter"]
    assert redactor.redact_items(["l", "s", "Enter"]) == ["l", "s", "Enter"]


# -- a secret printed in two halves with a pause between ------------------------------------------


def test_what_may_begin_a_secret_is_held_through_a_pause():
    redactor = Redactor(["hunter2!pw"], from_environment=False)
    for first, second in (
        ("password: hunt", "er2!pw\n"),
        ("key ", ""),
        (f"key {ANTHROPIC[:25]}", ANTHROPIC[25:] + "\n"),
        ('{"SessionToken": "IQoJb3Jp', 'Z2luX2VjEJr//////wEaCXVzLWVhc3QtMSJHMEUCIQD"}'),
    ):
        output = PendingOutput(redactor, cols=200)
        output.add(0.0, first)
        out = _written(output.take()) + _written(output.take_paused())
        if second:
            output.add(2.0, second)
        out += _written(output.take()) + _written(output.take_all())
        assert out == redactor.redact(first + second)
        assert "er2!pw" not in out and ANTHROPIC[25:] not in out


def test_a_pause_writes_what_cannot_begin_a_secret():
    output = PendingOutput(Redactor(["hunter2!pw"], from_environment=False), cols=200)
    output.add(0.0, "epoch 3/10 sk")
    assert output.take() == [], "sk may begin a key: the chunk is held, whole, with its time"
    assert output.take_paused() == [(0.0, "epoch 3/10 sk")]
    assert not output.holding


def test_only_an_end_that_could_begin_a_secret_is_held():
    redactor = Redactor(["hunter2!pw"], from_environment=False)
    for text in ("loss 2.3100", "step 27/100", "disk-sk", "done\r\n", "ok ghz", "a-b xo:"):
        assert redactor.split_safe(text) == (text, ""), text
    for text, held in (
        ("key sk", "sk"),
        ("key gh", "gh"),
        ("id AKIA12", "AKIA12"),
        ("$ export AWS_SECRET_ACCESS", "AWS_SECRET_ACCESS"),
        ('"SessionToken": "IQo', 'SessionToken": "IQo'),
        ("password: hunt", "hunt"),
        ("x = s", "s"),
    ):
        assert redactor.split_safe(text) == (text[: -len(held)], held), text


def test_what_may_begin_a_secret_is_held_only_up_to_a_limit():
    output = PendingOutput(Redactor(from_environment=False), cols=200)
    output.add(0.0, "\x1b]0;" + "t" * HOLD_LIMIT)  # a title that never ends
    assert _written(output.take_paused()).startswith("\x1b]0;ttt")
    assert not output.holding


# -- secrets assigned to names such as PASSWORD ---------------------------------------------------


def test_a_value_assigned_to_a_secret_s_name_is_redacted_and_the_name_kept():
    redactor = Redactor(from_environment=False)
    text = (
        "PASSWORD=hunter2 mysql; export DB_PASSWORD='s3cr!t'; ./cli --token=abc "
        "CLIENT_SECRET=x9 OPENAI_API_KEY=local"
    )
    assert redactor.redact(text) == (
        f"PASSWORD={REDACTED} mysql; export DB_PASSWORD='{REDACTED}'; ./cli --token={REDACTED} "
        f"CLIENT_SECRET={REDACTED} OPENAI_API_KEY={REDACTED}"
    )
    assert redactor.redact(redactor.redact(text)) == redactor.redact(text)


def test_names_that_only_look_like_a_secret_s_are_left_alone():
    redactor = Redactor(from_environment=False)
    text = "max_tokens=4096 token = next(stream) password: PASSWORD= tokens=5"
    assert redactor.redact(text) == text


def test_a_password_assigned_across_pieces_is_redacted_as_a_whole():
    redactor = Redactor(from_environment=False)
    text = "$ export DB_PASSWORD=hunter2!x && ./migrate\n"
    for cut in range(1, len(text)):
        out = _through_stream(redactor, [text[:cut], text[cut:]])
        assert out == redactor.redact(text), cut
    output = PendingOutput(redactor, cols=200)
    output.add(0.0, "$ export DB_PASSWORD=hun")
    paused = _written(output.take_paused())
    assert paused == "$ export DB_", "the name and what came of the value wait for the rest"
    output.add(2.0, "ter2!x\n")
    assert paused + _written(output.take_all()) == f"$ export DB_PASSWORD={REDACTED}\n"
