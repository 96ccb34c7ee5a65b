"""The tokens file: its format, its errors, who a token is, and changes without a restart."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from api.auth import (
    Identity,
    StaffMember,
    TokenFileError,
    TokenSource,
    load_tokens,
    parse_tokens,
    token_for,
    write_dev_tokens,
)

SPECIALIST = "specialist-token-0123456789"


def test_tokens_in_clear_or_as_digests_identify_their_callers() -> None:
    digest = hashlib.sha256(b"detector-token-0123456789").hexdigest()
    book = parse_tokens(
        f"""
        [[token]]
        role = "specialist"
        name = "dana"
        token = "{SPECIALIST}"

        [[token]]
        role = "detector"
        sha256 = "{digest}"

        [[token]]
        role = "seller:S-1"
        token = "seller-token-0123456789"
        """
    )
    assert book.identify(SPECIALIST) == Identity(role="specialist", name="dana")
    assert book.identify("detector-token-0123456789") == Identity("detector", "detector")
    seller = book.identify("seller-token-0123456789")
    assert seller is not None and seller.seller_id == "S-1"
    assert book.identify(SPECIALIST + "x") is None
    assert book.identify("") is None


def test_the_timeline_names_callers_by_role_and_name() -> None:
    assert Identity("specialist", "dana").who == "specialist:dana"
    assert Identity("detector", "detector").who == "detector"
    assert Identity("seller:S1", "S1").who == "seller"
    assert Identity("specialist", "dana").seller_id is None
    assert Identity("supervisor", "sam").who == "supervisor:sam"


def test_staff_carry_an_email_for_their_sla_warnings() -> None:
    book = parse_tokens(
        f"""
        [[token]]
        role = "specialist"
        name = "dana"
        email = "dana@aha.example"
        token = "{SPECIALIST}"

        [[token]]
        role = "specialist"
        name = "dana"
        token = "dana-second-token-0123"

        [[token]]
        role = "supervisor"
        name = "sam"
        token = "supervisor-token-0123456789"

        [[token]]
        role = "telephony"
        token = "telephony-token-0123456789"
        """
    )
    dana = book.identify(SPECIALIST)
    assert dana is not None and dana.email == "dana@aha.example"
    second = book.identify("dana-second-token-0123")
    assert second is not None and second.email == "dana@aha.example", "one person, one address"
    sam = book.identify("supervisor-token-0123456789")
    assert sam == Identity("supervisor", "sam") and sam.email is None and sam.supervisor
    assert book.staff() == {
        "dana": StaffMember("dana", "dana@aha.example", supervisor=False),
        "sam": StaffMember("sam", None, supervisor=True),
    }


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ('role = "admin"\ntoken = "0123456789abcdefgh"', "role 'admin' must be one of"),
        ('role = "seller:"\ntoken = "0123456789abcdefgh"', "role 'seller:' must be one of"),
        ('role = "rating"', "exactly one of `sha256` or `token`"),
        ('role = "rating"\ntoken = "short"', "16+ characters"),
        ('role = "rating"\nsha256 = "abc"', "sha256 must be 64 hex digits"),
        ('role = "rating"\ntoken = "0123456789abcdefgh"\nscope = "x"', "unknown keys scope"),
        ('role = "rating"\nname = ""\ntoken = "0123456789abcdefgh"', "name '' must be"),
        (
            'role = "specialist"\nemail = "dana"\ntoken = "0123456789abcdefgh"',
            "email 'dana' is not an email address",
        ),
        (
            'role = "supervisor"\nemail = 7\ntoken = "0123456789abcdefgh"',
            "email 7 is not an email address",
        ),
        (
            'role = "telephony"\nemail = "t@aha.example"\ntoken = "0123456789abcdefgh"',
            "only a specialist or supervisor has an email",
        ),
    ],
)
def test_a_bad_entry_is_refused_naming_the_entry_and_why(entry: str, reason: str) -> None:
    good = '[[token]]\nrole = "telephony"\ntoken = "telephony-0123456789"\n'
    with pytest.raises(TokenFileError) as err:
        parse_tokens(f"{good}\n[[token]]\n{entry}\n", "tokens.toml")
    assert "tokens.toml: token 2" in str(err.value)
    assert reason in str(err.value)


def test_the_same_token_twice_and_broken_toml_are_refused() -> None:
    twice = '[[token]]\nrole = "rating"\ntoken = "0123456789abcdefgh"\n' * 2
    with pytest.raises(TokenFileError, match="the same token appears twice"):
        parse_tokens(twice)
    with pytest.raises(TokenFileError, match="not TOML"):
        parse_tokens("[[token]\nrole=")


def test_one_person_has_one_email_across_their_tokens() -> None:
    text = "".join(
        f'[[token]]\nrole = "specialist"\nname = "dana"\nemail = "{email}"\ntoken = "{token}"\n'
        for email, token in [("dana@aha.example", SPECIALIST), ("d@x.example", SPECIALIST + "2")]
    )
    with pytest.raises(TokenFileError) as err:
        parse_tokens(text, "tokens.toml")
    assert str(err.value) == (
        "tokens.toml: token 2: dana has email 'dana@aha.example' in token 1; "
        "one person, one address"
    )


def test_a_missing_file_is_an_error_and_no_file_means_no_tokens(tmp_path: Path) -> None:
    with pytest.raises(TokenFileError, match="AHA_API_TOKENS="):
        load_tokens(str(tmp_path / "absent.toml"))
    assert len(load_tokens(None)) == 0


def _rewrite(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    # Same size and a coarse clock could hide a change; move the mtime on explicitly.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_changes_to_the_file_apply_without_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    _rewrite(path, f'[[token]]\nrole = "specialist"\ntoken = "{SPECIALIST}"\n')
    source = TokenSource(str(path))
    assert source.book().identify(SPECIALIST) is not None

    _rewrite(path, '[[token]]\nrole = "rating"\ntoken = "rating-0123456789ab"\n')
    assert source.book().identify(SPECIALIST) is None, "a removed token is revoked at once"
    assert source.book().identify("rating-0123456789ab") is not None

    _rewrite(path, "[[token]\nbroken")
    assert source.book().identify("rating-0123456789ab") is not None, "the last good file"
    assert source.problem is not None and "not TOML" in source.problem


def test_a_bad_file_at_start_stops_the_service(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    path.write_text('[[token]]\nrole = "root"\ntoken = "0123456789abcdefgh"\n')
    with pytest.raises(TokenFileError, match="role 'root'"):
        TokenSource(str(path))


def test_dev_tokens_cover_every_role_and_are_kept_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "api-tokens.toml"
    write_dev_tokens(path, ["demo-a", "demo-b"])
    book = load_tokens(str(path))
    roles = {"detector", "rating", "telephony", "specialist", "supervisor"}
    roles |= {"seller:demo-a", "seller:demo-b"}
    for role in roles:
        token = token_for(path, role)
        assert token is not None
        identity = book.identify(token)
        assert identity is not None and identity.role == role
        assert (identity.email is not None) == (role in ("specialist", "supervisor"))
    first = path.read_text()
    write_dev_tokens(path, ["demo-a"])
    assert path.read_text() == first
    assert path.stat().st_mode & 0o077 == 0, "readable by its owner only"
