"""edgeml.toml: typed, validated, unknown keys rejected by name."""

from pathlib import Path

import pytest

from edgeml.config import Config, load_config
from edgeml.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edgeml.toml"
    path.write_text(text)
    return path


def test_defaults_when_no_file():
    assert load_config(None) == Config()


def test_reads_every_section(tmp_path):
    config = load_config(
        write(
            tmp_path,
            """
            [data]
            dtypes = { zip = "category" }
            drop = ["case"]
            [prep]
            impute = "median"
            outlier_k = 2
            [train]
            target = "y"
            seed = 7
            params = { min_data_in_leaf = 5 }
            """,
        )
    )
    assert config.data.dtypes == {"zip": "category"}
    assert config.data.drop == ["case"]
    assert config.prep.impute == "median"
    assert config.prep.outlier_k == 2.0  # an int widens to the float the key wants
    assert config.train.target == "y"
    assert config.train.params == {"min_data_in_leaf": 5}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[train]\ntargte = 'y'", "unknown key 'targte'; expected one of: target, out, task"),
        ("[trian]\ntarget = 'y'", "'trian'; expected one of: data, prep, features, train"),
        ("[prep]\nimpute = 'avg'", "prep] impute: 'avg' is not allowed; expected one of: 'none'"),
        ("[train]\nseed = 'x'", "[train] seed: expected int, got 'x'"),
        ("[train]\nseed = true", "[train] seed: expected an integer, got True"),
        ("[train]\ncv_folds = 1", "cv_folds: 1; expected 0 (no CV) or at least 2"),
        ("[train]\nholdout = 0.95", "holdout: 0.95 is out of range; expected 0.0..0.9"),
        ("[data]\ndtypes = { a = 'decimal' }", "dtypes.a: 'decimal' is not allowed"),
        ("[data]\ndrop = 'case'", "[data] drop: expected a list, got 'case'"),
        ("[train\n", "not valid TOML"),
    ],
)
def test_bad_config_names_key_and_allowed_values(tmp_path, text, message):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert message in str(info.value)
    assert str(tmp_path / "edgeml.toml") in str(info.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.toml: config file not found"):
        load_config(tmp_path / "nope.toml")


def test_command_line_overrides_win_and_none_keeps_file_value(tmp_path):
    config = load_config(write(tmp_path, "[train]\nseed = 3\ntask = 'binary'"))
    merged = config.with_overrides("train", seed=9, task=None)
    assert (merged.train.seed, merged.train.task) == (9, "binary")


def test_override_values_are_validated():
    with pytest.raises(ConfigError, match="task: 'linear' is not allowed"):
        Config().with_overrides("train", task="linear")


def test_round_trips_through_dict():
    config = Config().with_overrides("prep", encoding="onehot")
    assert Config.from_dict(config.to_dict()) == config
