"""Step-by-step guidance per issue type, read from the shipped catalogue.

Transitional: the text lives in `aha/issue_catalog.toml` (see `aha.domain.catalogue`), and a
case takes each issue's label and guidance from its detection event, which the service fills
from the catalogue in force. These readers serve what has no event to read them from (cases
opened before events carried guidance); they see only the shipped catalogue.
"""

from __future__ import annotations

from aha.domain.catalogue import shipped_catalogue

# Read at import: the workflow imports this module through the sandbox's pass-through.
_SHIPPED = shipped_catalogue()

ISSUE_TYPES: tuple[str, ...] = _SHIPPED.names


def guidance_for(issue_type: str) -> list[str]:
    return _SHIPPED.guidance(issue_type)


def describe_issue_type(issue_type: str) -> str:
    return _SHIPPED.label(issue_type)
