"""The key ring that encrypts payloads in Temporal: a JSON file of AES-256 keys by id.

    {"current": "20250601-1a2b3c4d", "keys": {"20250601-1a2b3c4d": "<32 bytes, base64>"}}

New payloads are encrypted with the current key; every key in the ring still decrypts the
payloads written under it, so a key can be rotated without losing old histories.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

KEY_BYTES = 32  # AES-256-GCM
KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
SETTING = "AHA_CODEC_KEYS_FILE"


class KeyRingError(ValueError):
    """A key ring that cannot be used; the message names the file, its setting and why."""


@dataclass(frozen=True)
class KeyRing:
    current: str
    keys: dict[str, bytes] = field(repr=False)
    source: str = ""  # where the ring came from, for error messages

    def key(self, key_id: str) -> bytes:
        return self.keys[key_id]


def load_key_ring(path: str | Path, setting: str = SETTING) -> KeyRing:
    """The ring in `path`, or a KeyRingError naming `setting`, the file and the reason."""

    def fail(reason: str) -> KeyRingError:
        return KeyRingError(f"{setting}={path}: {reason}")

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise fail(f"no such file (create it with `aha codec keygen --file {path}`)") from None
    except (OSError, UnicodeDecodeError) as err:
        raise fail(f"cannot read it: {getattr(err, 'strerror', None) or err}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise fail(f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
    return _parse(data, fail, str(path))


def _parse(data: Any, fail: Any, source: str) -> KeyRing:
    if not isinstance(data, dict):
        raise fail('expected a JSON object {"current": ID, "keys": {ID: KEY}}')
    keys_field = data.get("keys")
    if not isinstance(keys_field, dict) or not keys_field:
        raise fail('"keys" must be a non-empty object of key id to base64 key')
    keys: dict[str, bytes] = {}
    for key_id, encoded in keys_field.items():
        if not KEY_ID.fullmatch(key_id):
            raise fail(f"key id {key_id!r} must be 1-64 letters, digits, '.', '_' or '-'")
        if not isinstance(encoded, str):
            raise fail(f"key {key_id!r} must be a base64 string")
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise fail(f"key {key_id!r} is not valid base64") from None
        if len(key) != KEY_BYTES:
            raise fail(f"key {key_id!r} is {len(key)} bytes; AES-256-GCM needs {KEY_BYTES}")
        keys[key_id] = key
    current = data.get("current")
    if not isinstance(current, str) or not current:
        raise fail('no current key: "current" must name one of "keys"')
    if current not in keys:
        raise fail(f'the current key {current!r} is not in "keys"')
    unknown = sorted(set(data) - {"current", "keys"})
    if unknown:
        raise fail(f"unknown fields {', '.join(unknown)}")
    return KeyRing(current=current, keys=keys, source=source)


def new_key_id(taken: set[str]) -> str:
    while True:
        key_id = f"{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"
        if key_id not in taken:
            return key_id


def add_key(path: str | Path) -> tuple[str, KeyRing]:
    """Create the ring at `path`, or add a fresh key to it; the new key becomes current.

    A file that exists but is not a valid ring is refused and left as it is."""
    target = Path(path)
    keys: dict[str, bytes] = {}
    if target.exists():
        keys = dict(load_key_ring(target, setting="--file").keys)
    key_id = new_key_id(set(keys))
    keys[key_id] = secrets.token_bytes(KEY_BYTES)
    ring = KeyRing(current=key_id, keys=keys, source=str(target))
    _write(target, ring)
    return key_id, ring


def _write(target: Path, ring: KeyRing) -> None:
    document = {
        "current": ring.current,
        "keys": {key_id: base64.b64encode(key).decode() for key_id, key in ring.keys.items()},
    }
    if not target.parent.is_dir():
        raise KeyRingError(f"--file={target}: the directory {target.parent} does not exist")
    # Written beside the ring and renamed over it: a crash leaves the old ring or the new one,
    # never half a file, and the keys are never readable by anyone else, not even briefly.
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        # A ring that exists keeps its mode and owner's group access: the deployment chose
        # them (a secret mounted into containers whose user must read it), and a rotation
        # that made it unreadable would stop every process at its next start.
        if target.exists():
            os.chmod(descriptor, stat.S_IMODE(target.stat().st_mode))
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(document, file, indent=2)
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
