"""Secrets never reach disk: known values and key-shaped strings, whole or cut in pieces."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from clive.session.redact import REDACTED, Redactor, StreamRedactor

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


def _through_stream(redactor: Redactor, pieces: list[str]) -> str:
    stream = StreamRedactor(redactor)
    return "".join(stream.feed(piece) for piece in pieces) + stream.flush()


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


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(["plain text ", "\r\n", ANTHROPIC, GITHUB, "hunter2!pw", " x=", "é"])),
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
