"""An operator's issue type (AHA_ISSUE_CATALOG) works through the API like a shipped one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aha.catalogue_file import shipped_catalogue
from tests.conftest import Api, Cases, running_api

OPS_CATALOGUE = """
[issue_types.counterfeit_packaging]
label = "Counterfeit or tampered packaging"
guidance = [
    "Photograph the packaging of the units in stock.",
    "Send the photos and the supplier invoices to the specialist.",
]
"""
STEPS = [
    "Photograph the packaging of the units in stock.",
    "Send the photos and the supplier invoices to the specialist.",
]


@pytest.fixture
async def ops_api(
    cases: Cases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Api]:
    catalogue = tmp_path / "ops-catalogue.toml"
    catalogue.write_text(OPS_CATALOGUE, encoding="utf-8")
    monkeypatch.setenv("AHA_ISSUE_CATALOG", str(catalogue))
    async with running_api(cases, tmp_path) as api:
        yield api


async def _open_case(api: Api) -> str:
    seller_id, _ = api.seller()
    body = api.detection(seller_id, issue_type="counterfeit_packaging")
    async with api.as_role("detector") as http:
        accepted = await http.post("/v1/detections", json=body)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["issue_id"] == "I1" and accepted.json()["created"]
    return seller_id


async def test_a_detection_of_an_operators_type_opens_a_case(ops_api: Api) -> None:
    seller_id = await _open_case(ops_api)
    async with ops_api.as_role("specialist") as http:
        view = (await http.get(f"/v1/sellers/{seller_id}/case")).json()
    assert view["status"] == "awaiting_contact"
    assert [i["type"] for i in view["issues"]] == ["counterfeit_packaging"]


async def test_unknown_types_are_refused_with_the_known_ones_the_operators_included(
    ops_api: Api,
) -> None:
    seller_id, _ = ops_api.seller()
    body = ops_api.detection(seller_id, issue_type="alien_invasion")
    async with ops_api.as_role("detector") as http:
        refused = await http.post("/v1/detections", json=body)
        assert refused.status_code == 422, refused.text
        answer = refused.json()
        assert [f["field"] for f in answer["fields"]] == ["issue_type"]
        known = ", ".join((*shipped_catalogue().names, "counterfeit_packaging"))
        assert answer["detail"].endswith(f"unknown issue type 'alien_invasion'; known: {known}")
        async with ops_api.as_role("specialist") as reader:
            assert (await reader.get(f"/v1/sellers/{seller_id}/case")).status_code == 404


async def test_the_operators_guidance_reaches_calls_emails_and_the_page(ops_api: Api) -> None:
    seller_id = await _open_case(ops_api)
    await ops_api.cases.wait_for_call(seller_id, 1)
    async with ops_api.as_role("specialist") as http:
        calls = (await http.get("/v1/calls/pending")).json()["calls"]
        view = (await http.get(f"/v1/sellers/{seller_id}/case")).json()
    [call] = [c for c in calls if c["seller_id"] == seller_id]
    assert call["issue_types"] == ["counterfeit_packaging"]
    assert call["guidance"] == [f"I1: {step}" for step in STEPS]
    assert view["issues"][0]["label"] == "Counterfeit or tampered packaging"
    assert view["issues"][0]["guidance"] == STEPS
    [opened] = await ops_api.cases.wait_for_emails(seller_id, 1)
    body = opened.get_content()
    assert "Issue I1: Counterfeit or tampered packaging (high severity)" in body
    assert f"  1. {STEPS[0]}\n  2. {STEPS[1]}" in body
