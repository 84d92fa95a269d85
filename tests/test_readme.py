"""The configuration shown in the README is a valid edgeml.toml."""

import tomllib
from pathlib import Path

from edgeml.config import Config

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_config_example_is_valid():
    text = README.read_text()
    block = text[text.index("```toml") + len("```toml") :]
    config = Config.from_dict(tomllib.loads(block[: block.index("```")]), source="README")
    assert config.train.target == "churn"
    assert config.search.method == "bayes"
