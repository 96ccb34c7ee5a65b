"""The issue-type catalogue is data: shipped, extended by an operator's file, checked with the
key and the reason of every problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from aha.catalogue_file import load_catalogue, shipped_catalogue
from aha.config import Settings
from aha.domain.catalogue import (
    CatalogueError,
    UnknownIssueType,
    label_from_name,
    parse_catalogue,
)

SHIPPED = (
    "suspected_ip_violation", "ip_complaint", "product_authenticity_complaint",
    "product_condition_complaint", "food_product_safety", "restricted_product",
    "listing_policy_violation", "review_policy_violation", "fraud", "deception",
    "illegal_activity", "other_policy_violation",
)  # fmt: skip

COUNTERFEIT_PACKAGING = """
[issue_types.counterfeit_packaging]
label = "Counterfeit packaging"
guidance = [
    "Photograph the packaging of the units in stock.",
    "Send the photos and the supplier invoices to the specialist.",
]
"""


def test_the_shipped_catalogue_lists_every_type_with_its_label_and_guidance() -> None:
    catalogue = shipped_catalogue()
    assert catalogue.names == SHIPPED
    assert catalogue.label("ip_complaint") == "IP complaint"
    assert catalogue.label("food_product_safety") == "Food product safety"
    for issue_type in catalogue:
        assert issue_type.label == label_from_name(issue_type.name)
        assert issue_type.guidance and all(step.strip() for step in issue_type.guidance)
    assert catalogue.guidance("ip_complaint")[-1].startswith("Write a plan of action")


def test_a_type_no_catalogue_knows_reads_as_before() -> None:
    catalogue = shipped_catalogue()
    assert catalogue.names == SHIPPED
    assert catalogue.label("suspected_ip_violation") == "Suspected IP violation"
    # An old case's type: a label from its name and the guidance of other_policy_violation.
    assert catalogue.label("ip_thing") == "IP thing"
    assert catalogue.guidance("ip_thing") == catalogue.guidance("other_policy_violation")


def test_an_unknown_type_is_refused_with_the_known_ones() -> None:
    with pytest.raises(UnknownIssueType) as refused:
        shipped_catalogue().require("alien_invasion")
    assert str(refused.value) == (
        f"unknown issue type 'alien_invasion'; known: {', '.join(SHIPPED)}"
    )


def test_an_operators_file_adds_types_after_the_shipped_ones() -> None:
    catalogue = shipped_catalogue().extended(COUNTERFEIT_PACKAGING, "ops.toml")
    assert catalogue.names == (*SHIPPED, "counterfeit_packaging")
    added = catalogue.require("counterfeit_packaging")
    assert added.label == "Counterfeit packaging"
    assert added.guidance[0] == "Photograph the packaging of the units in stock."
    assert "counterfeit_packaging" not in shipped_catalogue(), "the shipped one is unchanged"


def test_an_operators_entry_overrides_only_the_fields_it_gives() -> None:
    catalogue = shipped_catalogue().extended(
        '[issue_types.ip_complaint]\nguidance = ["Call the brand protection desk."]\n'
        '[issue_types.fraud]\nlabel = "Suspected fraud"\n',
        "ops.toml",
    )
    assert catalogue.names == SHIPPED, "overriding keeps the order"
    assert catalogue.label("ip_complaint") == "IP complaint"
    assert catalogue.guidance("ip_complaint") == ["Call the brand protection desk."]
    assert catalogue.label("fraud") == "Suspected fraud"
    assert catalogue.guidance("fraud") == shipped_catalogue().guidance("fraud")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("issue_types = [", "ops.toml: not valid TOML"),
        ('[issue_type.x]\nlabel = "X"\n', "ops.toml: issue_type: unknown key"),
        (
            '[issue_types.x]\nlabel = "X"\nguidance = ["a"]\nsteps = ["b"]\n',
            "ops.toml: issue_types.x.steps: unknown key",
        ),
        ('[issue_types.x]\nguidance = ["a"]\n', "issue_types.x.label: required for a new issue"),
        ('[issue_types.x]\nlabel = "X"\n', "issue_types.x.guidance: required for a new issue"),
        (
            '[issue_types.x]\nlabel = "X"\nguidance = []\n',
            "issue_types.x.guidance: must list at least one step",
        ),
        (
            '[issue_types.x]\nlabel = "X"\nguidance = ["a", "  "]\n',
            "issue_types.x.guidance.1: must not be empty",
        ),
        (
            '[issue_types.x]\nlabel = "X"\nguidance = "do it"\n',
            "issue_types.x.guidance: Input should be a valid list",
        ),
        (
            '[issue_types.x]\nlabel = 7\nguidance = ["a"]\n',
            "issue_types.x.label: Input should be a valid string",
        ),
        (
            '[issue_types.x]\nlabel = " "\nguidance = ["a"]\n',
            "issue_types.x.label: must not be empty",
        ),
        (
            '[issue_types.x]\nlabel = "two\\nlines"\nguidance = ["a"]\n',
            "issue_types.x.label: must be one line",
        ),
        (
            '[issue_types."Bad Name"]\nlabel = "X"\nguidance = ["a"]\n',
            "issue_types.Bad Name: an issue type is lowercase letters, digits and '_'",
        ),
        ("[issue_types.fraud]\nguidance = []\n", "issue_types.fraud.guidance: must list at least"),
    ],
)
def test_a_bad_file_is_refused_naming_the_key_and_the_reason(text: str, problem: str) -> None:
    with pytest.raises(CatalogueError, match=r"^ops\.toml: ") as refused:
        shipped_catalogue().extended(text, "ops.toml")
    assert problem in str(refused.value)


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    text = '[issue_types.x]\nlabel = ""\n[issue_types.y]\nguidance = ["a"]\n'
    with pytest.raises(CatalogueError) as refused:
        shipped_catalogue().extended(text, "ops.toml")
    assert str(refused.value) == (
        "ops.toml: issue_types.x.label: must not be empty; "
        "issue_types.x.guidance: required for a new issue type; "
        "issue_types.y.label: required for a new issue type"
    )


def test_a_catalogue_of_its_own_needs_complete_entries_and_at_least_one() -> None:
    with pytest.raises(CatalogueError, match="issue_types: must define at least one"):
        parse_catalogue("", "mine.toml")
    with pytest.raises(CatalogueError, match=r"issue_types\.fraud\.label: required"):
        parse_catalogue('[issue_types.fraud]\nguidance = ["a"]\n', "mine.toml")


def test_the_file_in_force_comes_from_aha_issue_catalog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_catalogue(None) == shipped_catalogue()
    assert load_catalogue("") == shipped_catalogue()
    ops = tmp_path / "ops.toml"
    ops.write_text(COUNTERFEIT_PACKAGING, encoding="utf-8")
    monkeypatch.setenv("AHA_ISSUE_CATALOG", str(ops))
    assert "counterfeit_packaging" in load_catalogue(Settings().issue_catalog)
    with pytest.raises(CatalogueError, match=r"missing\.toml: cannot read issue catalogue"):
        load_catalogue(tmp_path / "missing.toml")
