"""Payload encryption for Temporal: every payload and failure leaves the process as AES-GCM
ciphertext, so the Temporal server and its database never hold seller data in clear.

Only the client side uses this (worker, API, CLI, codec server): the codec runs outside the
workflow sandbox, and workflows must not import it (`cryptography` breaks the sandbox).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from aha.adapters.temporal.keyring import SETTING, KeyRing, load_key_ring
from aha.config import Settings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


class PayloadDecryptionError(ValueError):
    pass


class EncryptionCodec(PayloadCodec):
    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in ring.keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        key_id = self.ring.current
        cipher = self._ciphers[key_id]
        encoded = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            encoded.append(
                Payload(
                    metadata={"encoding": ENCODING, KEY_ID: key_id.encode()},
                    data=nonce + cipher.encrypt(nonce, payload.SerializeToString(), None),
                )
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decrypt(payload) for payload in payloads]

    def _decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            # Written before encryption was switched on: still readable as it is.
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadDecryptionError(
                f"a payload is encrypted with key {key_id!r}, which the key ring "
                f"({SETTING}={self.ring.source}) does not hold; it holds "
                f"{', '.join(sorted(self._ciphers))}: put that key back in the ring"
            )
        if len(payload.data) <= NONCE_BYTES:
            raise PayloadDecryptionError(
                f"a payload marked encrypted with key {key_id!r} holds {len(payload.data)} "
                f"bytes, too few for a nonce and a tag: it was cut short or altered"
            )
        try:
            clear = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], None)
        except InvalidTag:
            raise PayloadDecryptionError(
                f"a payload encrypted with key {key_id!r} does not decrypt with the key of "
                f"that id in {SETTING}={self.ring.source}: the key was changed or the payload "
                "altered"
            ) from None
        return Payload.FromString(clear)


def codec_for(settings: Settings) -> EncryptionCodec | None:
    if not settings.codec_keys_file:
        return None
    return EncryptionCodec(load_key_ring(settings.codec_keys_file))


def data_converter_for(settings: Settings) -> DataConverter:
    """The converter every aha process uses: pydantic JSON, encrypted when a key ring is set.

    With encryption on, failure messages and stack traces travel as encoded attributes, so
    they are encrypted too rather than left in clear beside the payloads."""
    codec = codec_for(settings)
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
