"""Bad input and unusable settings end in one clear line on stderr, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import free_port

AHA = [sys.executable, "-m", "aha.cli"]


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "AHA_DB": str(tmp_path / "aha.db"),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",  # nothing listens there
        **env,
    }
    return subprocess.run(
        [*AHA, *args], env=environment, capture_output=True, text=True, timeout=60
    )


def assert_refused(proc: subprocess.CompletedProcess[str], reason: str) -> None:
    assert proc.returncode != 0
    assert reason in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_detection_for_an_unknown_seller_says_so_without_needing_temporal(
    tmp_path: Path,
) -> None:
    run(tmp_path, "seller", "upsert", "acme", "--email", "ops@acme.example",
        "--timezone", "America/New_York")  # fmt: skip
    proc = run(tmp_path, "detect", "ghost", "--issue-type", "ip_complaint", "--severity", "high")
    assert_refused(proc, "not in the directory: no case was started")


def test_a_missing_directory_points_at_aha_db(tmp_path: Path) -> None:
    assert_refused(run(tmp_path, "seller", "show", "acme"), "no seller directory at")
    assert not (tmp_path / "aha.db").exists(), "reading commands create nothing"


def test_unreachable_temporal_is_named(tmp_path: Path) -> None:
    assert_refused(run(tmp_path, "status", "acme"), "cannot reach Temporal")


def test_unknown_issue_type_lists_the_valid_ones(tmp_path: Path) -> None:
    proc = run(tmp_path, "detect", "acme", "--issue-type", "nope", "--severity", "high")
    assert proc.returncode == 2 and "ip_complaint" in proc.stderr
    assert "unknown issue type 'nope'; known: suspected_ip_violation, ip_complaint" in proc.stderr


def test_detect_takes_the_operators_issue_types(tmp_path: Path) -> None:
    ops = tmp_path / "ops.toml"
    ops.write_text('[issue_types.counterfeit_packaging]\nlabel = "Counterfeit packaging"\n'
                   'guidance = ["Photograph the packaging."]\n')  # fmt: skip
    detect = ("detect", "acme", "--issue-type", "counterfeit_packaging", "--severity", "high")
    # Known now: the command goes on, and stops only for want of a directory.
    assert_refused(run(tmp_path, *detect, AHA_ISSUE_CATALOG=str(ops)), "no seller directory at")
    proc = run(tmp_path, *detect)
    assert proc.returncode == 2 and "unknown issue type 'counterfeit_packaging'" in proc.stderr
    proc = run(tmp_path, *detect[:3], "nope", "--severity", "high", AHA_ISSUE_CATALOG=str(ops))
    assert proc.returncode == 2 and "other_policy_violation, counterfeit_packaging" in proc.stderr


def test_a_broken_issue_catalogue_stops_start_up_with_key_and_reason(tmp_path: Path) -> None:
    ops = tmp_path / "ops.toml"
    ops.write_text('[issue_types.counterfeit_packaging]\nlabel = "Counterfeit packaging"\n')
    reason = f"aha: {ops}: issue_types.counterfeit_packaging.guidance: required for a new issue"
    detect = ("detect", "acme", "--issue-type", "ip_complaint", "--severity", "high")
    assert_refused(run(tmp_path, *detect, AHA_ISSUE_CATALOG=str(ops)), reason)
    api = ("api", "--port", str(free_port()))
    assert_refused(run(tmp_path, *api, AHA_ISSUE_CATALOG=str(ops)), reason)
    missing = tmp_path / "missing.toml"
    assert_refused(
        run(tmp_path, *api, AHA_ISSUE_CATALOG=str(missing)),
        f"aha: {missing}: cannot read issue catalogue",
    )


def test_worker_refuses_a_broken_policy_with_key_and_reason(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('deadline = "72h"\n[call_retry_after]\nbusy = "soon"\n')
    proc = run(tmp_path, "worker", "--policy", str(policy))
    assert_refused(proc, "call_retry_after.busy: 'soon' is not a duration")


def test_the_api_refuses_a_broken_policy_too_since_its_page_states_the_deadline(
    tmp_path: Path,
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('deadline = "soon"\n')
    proc = run(tmp_path, "api", "--port", str(free_port()), AHA_POLICY_FILE=str(policy))
    assert_refused(proc, f"aha: {policy}: deadline: 'soon' is not a duration")


def test_unusable_settings_are_reported(tmp_path: Path) -> None:
    proc = run(tmp_path, "seller", "show", "acme", AHA_CLI_TIMEOUT="soon")
    assert_refused(proc, "aha: could not convert string to float")


def test_invalid_contact_data_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    proc = run(
        tmp_path, "seller", "upsert", "acme", "--email", "ops@acme.example",
        "--phone", "+1555", "--timezone", "America/New_York",
    )  # fmt: skip
    assert_refused(proc, "phone '+1555'")
    assert_refused(run(tmp_path, "seller", "show", "acme"), "unknown seller 'acme'")


def test_the_api_will_not_start_on_a_bad_tokens_file(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.toml"
    tokens.write_text('[[token]]\nrole = "root"\ntoken = "0123456789abcdefgh"\n')
    proc = run(tmp_path, "api", "--port", str(free_port()), AHA_API_TOKENS=str(tokens))
    assert_refused(proc, f"aha: {tokens}: token 1: role 'root' must be one of")


def test_unusable_sla_alert_settings_stop_a_worker_naming_the_setting(tmp_path: Path) -> None:
    assert_refused(
        run(tmp_path, "worker", AHA_SUPERVISOR_EMAIL="sam@team.example, not-an-address"),
        "AHA_SUPERVISOR_EMAIL: 'not-an-address' is not an email address",
    )
    assert_refused(
        run(tmp_path, "worker", AHA_CONSOLE_URL="https://aha.example/console/{case}"),
        "AHA_CONSOLE_URL: 'https://aha.example/console/{case}' may hold {seller_id}",
    )
