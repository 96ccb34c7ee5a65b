"""Who is calling: bearer tokens mapped to roles in a TOML file (`AHA_API_TOKENS`).

    [[token]]
    role = "specialist"          # detector, rating, telephony, specialist, supervisor
                                 # or seller:{seller_id}
    name = "dana"                # who, in the case timeline (and whom cases are assigned to)
    email = "dana@example.com"   # optional: where this person's SLA warnings go
    sha256 = "9f86d0..."         # the token's SHA-256 in hex; or `token = "..."` in clear

A supervisor may do whatever a specialist may, and also assign cases and see everyone's.

Presented tokens are hashed and compared with every entry in constant time, so neither the
answer nor its timing tells which part of a wrong token was right.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

import structlog

from aha.domain.models import SELLER_ID_PATTERN

log = structlog.get_logger(__name__)

SERVICE_ROLES = ("detector", "rating", "telephony", "specialist", "supervisor")
# The people who work cases: they can own one, and SLA warnings go to them.
STAFF_ROLES = ("specialist", "supervisor")
_SELLER_ROLE = re.compile(r"^seller:(" + SELLER_ID_PATTERN.strip("^$") + r")$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.@:-]{0,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class TokenFileError(ValueError):
    """The tokens file cannot be used; the message names the entry and the reason."""


@dataclass(frozen=True)
class Identity:
    role: str  # as configured: "specialist", "seller:S1", ...
    name: str
    # Not part of who the caller is: a changed address keeps sessions and tokens valid.
    email: str | None = field(default=None, compare=False)

    @property
    def supervisor(self) -> bool:
        return self.role == "supervisor"

    @property
    def staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def seller_id(self) -> str | None:
        match = _SELLER_ROLE.match(self.role)
        return match.group(1) if match else None

    @property
    def who(self) -> str:
        """How the case timeline names this caller."""
        if self.seller_id is not None:
            return "seller"
        return f"{self.role}:{self.name}" if self.name != self.role else self.role


@dataclass(frozen=True)
class StaffMember:
    """A specialist or supervisor, by the name cases are assigned to."""

    name: str
    email: str | None
    supervisor: bool


@dataclass(frozen=True)
class _Entry:
    digest: bytes
    identity: Identity


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenBook:
    def __init__(self, entries: list[tuple[bytes, Identity]]) -> None:
        self._entries = [_Entry(d, identity) for d, identity in entries]

    def __len__(self) -> int:
        return len(self._entries)

    def identify(self, token: str) -> Identity | None:
        presented = digest(token)
        found = None
        for entry in self._entries:
            # No early exit: every entry is compared, whichever one matches.
            if hmac.compare_digest(entry.digest, presented):
                found = entry.identity
        return found

    def holds(self, token_digest: bytes, identity: Identity) -> bool:
        """Whether a token (by digest) still maps to `identity`: revoked tokens end sessions."""
        matches = [
            hmac.compare_digest(entry.digest, token_digest) and entry.identity == identity
            for entry in self._entries
        ]
        return any(matches)

    def staff(self) -> dict[str, StaffMember]:
        """The specialists and supervisors by name (one person may hold several tokens)."""
        members: dict[str, StaffMember] = {}
        for entry in self._entries:
            identity = entry.identity
            if not identity.staff:
                continue
            known = members.get(identity.name)
            members[identity.name] = StaffMember(
                name=identity.name,
                email=identity.email or (known.email if known else None),
                supervisor=identity.supervisor or (known.supervisor if known else False),
            )
        return members


def parse_tokens(text: str, source: str = "tokens file") -> TokenBook:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise TokenFileError(f"{source}: not TOML: {err}") from err
    tokens = data.get("token", [])
    if not isinstance(tokens, list):
        raise TokenFileError(f"{source}: `token` must be an array of tables ([[token]])")
    entries = []
    seen: set[bytes] = set()
    emails: dict[str, tuple[int, str]] = {}  # a person's address, and the entry that gave it
    for number, entry in enumerate(tokens, start=1):
        where = f"{source}: token {number}"
        if not isinstance(entry, dict):
            raise TokenFileError(f"{where}: must be a table")
        unknown = set(entry) - {"role", "name", "email", "sha256", "token"}
        if unknown:
            raise TokenFileError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
        role = entry.get("role")
        if not isinstance(role, str) or not (role in SERVICE_ROLES or _SELLER_ROLE.match(role)):
            raise TokenFileError(
                f"{where}: role {role!r} must be one of {', '.join(SERVICE_ROLES)} "
                "or seller:{seller_id}"
            )
        name = entry.get("name", role)
        if not isinstance(name, str) or not _NAME.match(name):
            raise TokenFileError(f"{where}: name {name!r} must be 1-64 plain characters")
        email = entry.get("email")
        if email is not None:
            if not isinstance(email, str) or len(email) > 254 or not _EMAIL.fullmatch(email):
                raise TokenFileError(f"{where}: email {email!r} is not an email address")
            if role not in STAFF_ROLES:
                raise TokenFileError(
                    f"{where}: only a {' or '.join(STAFF_ROLES)} has an email (for SLA warnings)"
                )
            earlier = emails.setdefault(name, (number, email))
            if earlier[1] != email:
                raise TokenFileError(
                    f"{where}: {name} has email {earlier[1]!r} in token {earlier[0]}; "
                    "one person, one address"
                )
        if ("sha256" in entry) == ("token" in entry):
            raise TokenFileError(f"{where}: give exactly one of `sha256` or `token`")
        if "token" in entry:
            token = entry["token"]
            if not isinstance(token, str) or len(token) < 16:
                raise TokenFileError(f"{where}: a token must be a string of 16+ characters")
            token_digest = digest(token)
        else:
            hex_digest = entry["sha256"]
            if not isinstance(hex_digest, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", hex_digest):
                raise TokenFileError(f"{where}: sha256 must be 64 hex digits")
            token_digest = bytes.fromhex(hex_digest)
        if token_digest in seen:
            raise TokenFileError(f"{where}: the same token appears twice")
        seen.add(token_digest)
        entries.append((token_digest, Identity(role=role, name=name, email=email)))
    # A person's address, given on one of their tokens, holds whichever token they present.
    entries = [
        (d, replace(i, email=emails[i.name][1]) if i.staff and i.name in emails else i)
        for d, i in entries
    ]
    return TokenBook(entries)


def load_tokens(path: str | None) -> TokenBook:
    """The tokens file at `path`; with none, nobody can call the protected routes."""
    if not path:
        return TokenBook([])
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise TokenFileError(f"AHA_API_TOKENS={path}: {err.strerror}") from err
    return parse_tokens(text, path)


class TokenSource:
    """The tokens file, read again when it changes: tokens are added or revoked without a
    restart. Deleting the file revokes every token; a change that does not parse keeps the
    last good tokens, and `problem` (logged, and shown by /readyz) says why."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._book = load_tokens(path)  # at start, a bad file is an error
        self._stamp = self._read_stamp()
        self.problem: str | None = None

    def _read_stamp(self) -> tuple[int, int] | None:
        if not self.path:
            return None
        try:
            info = Path(self.path).stat()
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size)

    def book(self) -> TokenBook:
        stamp = self._read_stamp()
        if stamp != self._stamp:
            self._stamp = stamp
            if stamp is None:
                self._book, self.problem = TokenBook([]), f"{self.path} is gone: no tokens"
            else:
                try:
                    self._book, self.problem = load_tokens(self.path), None
                except TokenFileError as err:
                    self.problem = f"kept the last good tokens: {err}"
            if self.problem:
                log.error("tokens file", problem=self.problem)
        return self._book


def write_dev_tokens(path: Path, seller_ids: list[str]) -> None:
    """A tokens file for a local stack: one token per service role and per demo seller.

    Kept once written, so tokens copied from it keep working across restarts.
    """
    if path.exists():
        return
    lines = [
        "# Tokens for the local `aha dev` stack only (AHA_API_TOKENS format: see README).",
        '# In production list `sha256 = "..."` digests instead of tokens in clear.',
    ]
    for role in SERVICE_ROLES:
        lines += ["", "[[token]]", f'role = "{role}"', f'name = "demo-{role}"']
        if role in STAFF_ROLES:
            # The dev stack's mail catcher takes any address: SLA warnings land there.
            lines.append(f'email = "demo-{role}@aha.example"')
        lines.append(f'token = "{role}-{secrets.token_urlsafe(18)}"')
    for seller_id in seller_ids:
        lines += ["", "[[token]]", f'role = "seller:{seller_id}"', f'name = "{seller_id}"']
        lines.append(f'token = "seller-{secrets.token_urlsafe(18)}"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)


def token_for(path: Path, role: str) -> str | None:
    """The clear token for `role` in a dev tokens file, to print where a person can use it."""
    for entry in tomllib.loads(path.read_text(encoding="utf-8")).get("token", []):
        if entry.get("role") == role and "token" in entry:
            return str(entry["token"])
    return None
