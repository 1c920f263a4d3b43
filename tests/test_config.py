"""Settings: defaults < user config < ./clive.toml < CLIVE_* variables < flags, validated."""

from __future__ import annotations

import pytest

from clive.config import DEFAULT_MODEL, ConfigError, load_config


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A user config directory of the test's own (XDG_CONFIG_HOME)."""
    config_home = tmp_path / "xdg"
    (config_home / "clive").mkdir(parents=True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    return config_home / "clive" / "config.toml"


def test_defaults_without_files_environment_or_flags(tmp_path, home):
    config = load_config(tmp_path, {}, environ={})
    assert config.model == DEFAULT_MODEL
    assert config.approve == "risky" and config.max_steps == 500
    assert config.max_cost is None and "claude-sonnet-4-5" in config.prices


def test_each_source_overrides_the_one_before(tmp_path, home):
    home.write_text('model = "from-user"\nmax_steps = 10\nmax_cost = 1.0\napprove = "never"\n')
    (tmp_path / "clive.toml").write_text('model = "from-cwd"\nmax_steps = 20\n')
    environ = {"CLIVE_MODEL": "from-env"}
    config = load_config(tmp_path, {"model": None, "max_cost": 3.5}, environ=environ)
    assert config.model == "from-env"  # environment over both files
    assert config.max_steps == 20  # the working directory's file over the user's
    assert config.approve == "never"  # only the user's file says it
    assert config.max_cost == 3.5  # a flag over everything
    flagged = load_config(tmp_path, {"model": "from-flag"}, environ=environ)
    assert flagged.model == "from-flag"


def test_tables_merge_entry_by_entry(tmp_path, home):
    (tmp_path / "clive.toml").write_text(
        '[prices."my-model"]\ninput = 1.5\noutput = 2.5\n'
        '[prices."claude-sonnet-4-5"]\ninput = 9\noutput = 9\n'
        '[risky]\nsudo = ""\n"terraform destroy" = "terraform\\\\s+destroy"\n'
    )
    config = load_config(tmp_path, {}, environ={})
    assert config.prices["my-model"].input == 1.5
    assert config.prices["claude-sonnet-4-5"].output == 9
    assert "claude-haiku-4-5" in config.prices, "defaults not named in the file stay"
    assert config.risky["sudo"] == "" and "terraform destroy" in config.risky
    assert "a force push" in config.risky


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("max_cost = -1\n", ["max_cost", "greater than 0"]),
        ('approve = "sometimes"\n', ["approve", "never", "risky", "always"]),
        ("colour = 3\n", ["colour", "no such setting"]),
        ("[prices.x]\ninput = 1\n", ["prices.x.output", "Field required"]),
        ("max_steps = \n", ["not valid TOML"]),
    ],
)
def test_a_wrong_file_is_reported_with_its_path_and_field(tmp_path, home, text, names):
    (tmp_path / "clive.toml").write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path, {}, environ={})
    message = str(raised.value)
    assert str(tmp_path / "clive.toml") in message
    for name in names:
        assert name in message


def test_a_wrong_environment_variable_is_reported_as_such(tmp_path, home):
    with pytest.raises(ConfigError, match=r"(?s)the environment.*CLIVE_MAX_STEPS.*'many'"):
        load_config(tmp_path, {}, environ={"CLIVE_MAX_STEPS": "many"})
