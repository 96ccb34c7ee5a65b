"""Where Temporal is and how to reach it: the SDK's environment configuration
(`temporalio.envconfig`), a TOML profile file with `TEMPORAL_*` variables over it.

Read once, when the settings are made, so a bad setting stops the process at start with the
setting's name and the reason, before anything connects. Certificates and keys are read here
too, for the same reason."""

from __future__ import annotations

import os
import sys
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from temporalio.envconfig import ClientConfigProfile, ClientConfigTLS

DEFAULT_ADDRESS = "localhost:7233"
DEFAULT_NAMESPACE = "default"

# Each certificate or key: the prefix of its two variables (_PATH, _DATA) and of its two keys
# in a profile's [tls] table (_path, _data).
_SOURCES = {
    "server_root_ca_cert": ("TEMPORAL_TLS_SERVER_CA_CERT", "server_ca_cert"),
    "client_cert": ("TEMPORAL_TLS_CLIENT_CERT", "client_cert"),
    "client_private_key": ("TEMPORAL_TLS_CLIENT_KEY", "client_key"),
}
_BOOLEANS = ("TEMPORAL_TLS", "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION")
_NO_SKIPPED_VERIFICATION = (
    "the Temporal Python SDK cannot turn host verification off; set TEMPORAL_TLS_SERVER_NAME "
    "(server_name in the profile) to the name on the server's certificate instead"
)


def load_temporal_profile() -> ClientConfigProfile:
    """The profile TEMPORAL_PROFILE names (else "default") from the profile file, with every
    TEMPORAL_* variable applied over it; its certificates and keys read into memory."""
    _check_booleans()
    file = _profile_file()
    profiles = _read_profiles(file) if file else {}
    name = os.environ.get("TEMPORAL_PROFILE") or None
    if name is not None and name not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        where = f"in {file}" if file else "because there is no profile file (TEMPORAL_CONFIG_FILE)"
        raise ValueError(f"TEMPORAL_PROFILE: no profile {name!r} {where}; profiles: {known}")
    where = f"profile {name or 'default'!r} of {file}" if file else "TEMPORAL_*"
    chosen = profiles.get(name or "default")
    tls_table = chosen.get("tls") if isinstance(chosen, dict) else None
    if isinstance(tls_table, dict) and tls_table.get("disable_host_verification"):
        raise ValueError(f"disable_host_verification in {where}: {_NO_SKIPPED_VERIFICATION}")
    try:
        profile = ClientConfigProfile.load(
            name, config_source=file, disable_file=file is None, config_file_strict=True
        )
    except RuntimeError as err:  # the SDK's ConfigError: conflicting settings, unknown keys
        raise ValueError(f"Temporal connection settings ({file or 'TEMPORAL_*'}): {err}") from None
    if profile.tls is None:
        return profile
    return replace(profile, tls=_read_certificates(profile.tls, where))


def _check_booleans() -> None:
    for variable in _BOOLEANS:
        value = os.environ.get(variable)
        if value and value.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"{variable}: {value!r} is not true or false")
    if (os.environ.get("TEMPORAL_TLS_DISABLE_HOST_VERIFICATION") or "").lower() in ("true", "1"):
        raise ValueError(f"TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: {_NO_SKIPPED_VERIFICATION}")


def _profile_file() -> Path | None:
    named = os.environ.get("TEMPORAL_CONFIG_FILE")
    if named:
        if not Path(named).is_file():
            raise ValueError(f"TEMPORAL_CONFIG_FILE: {named} does not exist or is not a file")
        return Path(named)
    default = _default_profile_file()
    return default if default.is_file() else None


def _default_profile_file() -> Path:
    """Where the SDK and the temporal CLI look when TEMPORAL_CONFIG_FILE is unset."""
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        xdg = os.environ.get("XDG_CONFIG_HOME")
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".config"
    return base / "temporalio" / "temporal.toml"


def _read_profiles(file: Path) -> dict[str, Any]:
    setting = "TEMPORAL_CONFIG_FILE" if os.environ.get("TEMPORAL_CONFIG_FILE") else "profile file"
    try:
        document = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as err:
        raise ValueError(f"{setting}: cannot read {file}: {err.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{setting}: {file} is not valid TOML: {err}") from None
    profiles = document.get("profile", {})
    if not isinstance(profiles, dict):
        raise ValueError(f"{setting}: {file}: `profile` must be a table of [profile.NAME] tables")
    return profiles


def _read_certificates(tls: ClientConfigTLS, where: str) -> ClientConfigTLS:
    read: dict[str, bytes | None] = {}
    for attribute, (variable, key) in _SOURCES.items():
        source = getattr(tls, attribute)
        if isinstance(source, Path):
            setting = _setting(f"{variable}_PATH", f"{key}_path in {where}")
            try:
                data: bytes | None = source.read_bytes()
            except OSError as err:
                raise ValueError(f"{setting}: cannot read {source}: {err.strerror}") from None
        else:
            setting = _setting(f"{variable}_DATA", f"{key}_data in {where}")
            data = source.encode() if isinstance(source, str) else source
        if data is not None and b"-----BEGIN " not in data:
            raise ValueError(f"{setting}: not a PEM certificate or key (no -----BEGIN line)")
        read[attribute] = data
    if (read["client_cert"] is None) != (read["client_private_key"] is None):
        raise ValueError(
            "TEMPORAL_TLS_CLIENT_CERT_* and TEMPORAL_TLS_CLIENT_KEY_* (client_cert_* and "
            f"client_key_* in {where}): a client certificate needs its key, and a key its "
            "certificate"
        )
    return replace(
        tls,
        server_root_ca_cert=read["server_root_ca_cert"],
        client_cert=read["client_cert"],
        client_private_key=read["client_private_key"],
    )


def _setting(variable: str, profile_key: str) -> str:
    return variable if os.environ.get(variable) else profile_key
