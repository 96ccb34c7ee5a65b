"""The policy in force: the shipped default, or an operator's TOML file."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from aha.domain.policy import Policy, PolicyError, parse_policy


def default_policy_text() -> str:
    return resources.files("aha").joinpath("default_policy.toml").read_text(encoding="utf-8")


def load_policy(path: str | Path | None) -> Policy:
    """The policy at `path`, or the shipped default when no path is given."""
    if path is None or str(path) == "":
        return parse_policy(default_policy_text(), "default policy")
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as err:
        raise PolicyError(f"{file}: cannot read policy file: {err.strerror}") from err
    return parse_policy(text, str(file))
