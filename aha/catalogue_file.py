"""The issue-type catalogue in force: the shipped one, extended by an operator's TOML file."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from aha.domain.catalogue import Catalogue, CatalogueError, parse_catalogue


def shipped_catalogue_text() -> str:
    return resources.files("aha").joinpath("issue_catalog.toml").read_text(encoding="utf-8")


@cache
def shipped_catalogue() -> Catalogue:
    """The catalogue that ships with the code (package data, the same on every worker)."""
    return parse_catalogue(shipped_catalogue_text(), "shipped issue catalogue")


def load_catalogue(path: str | Path | None) -> Catalogue:
    """The shipped catalogue with the file at `path` on top (its entries add types or override
    shipped ones), or the shipped catalogue alone when no path is given."""
    if path is None or str(path) == "":
        return shipped_catalogue()
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as err:
        raise CatalogueError(f"{file}: cannot read issue catalogue: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise CatalogueError(f"{file}: not UTF-8 text: {err.reason}") from err
    return shipped_catalogue().extended(text, str(file))
