"""The issue-type catalogue: each type a detection may carry, its label and its guidance.

The catalogue is data. The shipped one is `aha/issue_catalog.toml`, package data read once
like a constant; an operator's file (`AHA_ISSUE_CATALOG`, read by `aha/catalogue_file.py`)
adds types and overrides shipped ones. Parsing is pure and every problem names the key and
the reason, as the policy's do.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictStr, ValidationError

NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_LABEL = 200
# Every issue's guidance is copied into its case's events, call attempts and emails, so it
# must stay far below Temporal's payload limits: ten steps of 500 characters per type.
MAX_STEP = 500
MAX_STEPS = 10
# What a type missing from the catalogue falls back to, for cases opened before types were
# data (their events carry no guidance): today's answer for any type the catalogue lacks.
FALLBACK_TYPE = "other_policy_violation"


class CatalogueError(ValueError):
    """A catalogue that cannot be used; the message names the key and the reason."""


class UnknownIssueType(ValueError):
    """A detection's issue type is not in the catalogue; the message lists the known ones."""


class IssueType(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    label: str
    guidance: tuple[str, ...]


class Catalogue:
    """The issue types in force, in the order the catalogue lists them."""

    def __init__(self, types: Iterable[IssueType]) -> None:
        self._types = {t.name: t for t in types}

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[IssueType]:
        return iter(self._types.values())

    def __len__(self) -> int:
        return len(self._types)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Catalogue) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"Catalogue({', '.join(self.names)})"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._types)

    def get(self, name: str) -> IssueType | None:
        return self._types.get(name)

    def require(self, name: str) -> IssueType:
        """The type named `name`, or `UnknownIssueType` with the list of known ones."""
        found = self._types.get(name)
        if found is None:
            raise UnknownIssueType(f"unknown issue type {name!r}; known: {', '.join(self.names)}")
        return found

    def label(self, name: str) -> str:
        found = self._types.get(name)
        return found.label if found else label_from_name(name)

    def guidance(self, name: str) -> list[str]:
        found = self._types.get(name) or self._types.get(FALLBACK_TYPE)
        return list(found.guidance) if found else []

    def extended(self, text: str, source: str) -> Catalogue:
        """This catalogue with an operator's file on top: its entries add new types, and an
        entry for a type already here overrides the fields it gives (`label`, `guidance`)."""
        return parse_catalogue(text, source, base=self)


def label_from_name(name: str) -> str:
    """A readable label for a type no catalogue describes: "ip_complaint" -> "IP complaint"."""
    text = " ".join("IP" if word == "ip" else word for word in name.split("_"))
    return text[:1].upper() + text[1:]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: StrictStr | None = None
    guidance: list[StrictStr] | None = None


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    issue_types: dict[str, _Entry] = {}


def _label_problem(label: str) -> str | None:
    if not label.strip():
        return "must not be empty"
    if "\n" in label or "\r" in label:
        return "must be one line"
    if len(label) > MAX_LABEL:
        return f"must be at most {MAX_LABEL} characters"
    return None


def _steps_problems(key: str, steps: list[str]) -> list[str]:
    if not steps:
        return [f"{key}: must list at least one step"]
    if len(steps) > MAX_STEPS:
        return [f"{key}: must list at most {MAX_STEPS} steps"]
    problems = []
    for index, step in enumerate(steps):
        if not step.strip():
            problems.append(f"{key}.{index}: must not be empty")
        elif len(step) > MAX_STEP:
            problems.append(f"{key}.{index}: must be at most {MAX_STEP} characters")
    return problems


def _entry(name: str, entry: _Entry, base: IssueType | None) -> tuple[IssueType | None, list[str]]:
    key = f"issue_types.{name}"
    problems = []
    if not NAME.fullmatch(name):
        problems.append(
            f"{key}: an issue type is lowercase letters, digits and '_', starting with a "
            "letter (at most 64 characters)"
        )
    label = entry.label if entry.label is not None else (base.label if base else None)
    steps = (
        entry.guidance if entry.guidance is not None else (list(base.guidance) if base else None)
    )
    if label is None:
        problems.append(f"{key}.label: required for a new issue type")
    elif problem := _label_problem(label):
        problems.append(f"{key}.label: {problem}")
    if steps is None:
        problems.append(f"{key}.guidance: required for a new issue type")
    else:
        problems += _steps_problems(f"{key}.guidance", steps)
    if problems or label is None or steps is None:
        return None, problems
    return IssueType(name=name, label=label.strip(), guidance=tuple(steps)), []


def parse_catalogue(
    text: str, source: str = "issue catalogue", base: Catalogue | None = None
) -> Catalogue:
    """The catalogue in `text`, or, given `base`, `base` extended by it (see `extended`)."""
    try:
        data: Any = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise CatalogueError(f"{source}: not valid TOML: {err}") from err
    try:
        parsed = _File.model_validate(data)
    except ValidationError as err:
        problems = []
        for error in err.errors():
            key = ".".join(str(part) for part in error["loc"]) or "(catalogue)"
            reason = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
            problems.append(f"{key}: {reason}")
        raise CatalogueError(f"{source}: " + "; ".join(problems)) from err
    types: dict[str, IssueType] = {t.name: t for t in base} if base is not None else {}
    problems = []
    for name, entry in parsed.issue_types.items():
        issue_type, found = _entry(name, entry, types.get(name))
        problems += found
        if issue_type is not None:
            types[name] = issue_type
    if problems:
        raise CatalogueError(f"{source}: " + "; ".join(problems))
    if not types:
        raise CatalogueError(f"{source}: issue_types: must define at least one issue type")
    return Catalogue(types.values())
