"""CredentialVault: seal practice credentials at rest with AES-256-GCM, bound to their owner.

A sealed secret is a printable envelope:

    pmsv1.<key_id>.<base64url(nonce || ciphertext || tag)>

``pmsv1`` names the format, ``key_id`` the key it was sealed under (so several keys can live side by side
while one is rotated out), and the last part is AES-GCM output under a fresh 96-bit random nonce. The
associated data is ``b"pmsv1\\x00" + key_id + b"\\x00" + context``: the version, the key id and the caller's
``context`` (an account or practice id) are all authenticated, and the base64 text must be canonical, so
altering any single character of an envelope, or opening it under another tenant's context, fails.

Every failure raises [VaultError][pms_connect.errors.VaultError]. Messages, logs and reprs name key ids at
most; never key material, plaintext or envelope bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, overload

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError, to_jsonable_python

from pms_connect.errors import VaultError
from pms_connect.validation import describe_validation_error

__all__ = ["DEFAULT_ENV_VAR", "ENVELOPE_VERSION", "CredentialVault"]

logger = logging.getLogger("pms_connect.vault")

ENVELOPE_VERSION = "pmsv1"
"""The prefix of every envelope this module writes; a new format gets a new prefix."""

DEFAULT_ENV_VAR = "PMS_CONNECT_VAULT_KEYS"

_KEY_BYTES = 32  # AES-256
_NONCE_BYTES = 12  # the GCM standard nonce; random per seal
_TAG_BYTES = 16
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_B64URL = re.compile(r"[A-Za-z0-9_-]+")

M = TypeVar("M", bound=BaseModel)


class CredentialVault:
    """Seals and opens secrets with AES-256-GCM under one active key, keeping older keys to open with.

    ``keys`` maps a key id (letters, digits, ``_`` and ``-``; at most 64) to 32 bytes of key material.
    New envelopes are sealed under ``active_key_id``; any key present can open an envelope naming it.
    """

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        if not keys:
            raise VaultError("the vault needs at least one key")
        ciphers: dict[str, AESGCM] = {}
        for key_id, material in keys.items():
            _check_key_id(key_id)
            if not isinstance(material, bytes) or len(material) != _KEY_BYTES:
                # Say what is wrong with the material, never what it is.
                raise VaultError(f"key {key_id!r} must be exactly {_KEY_BYTES} bytes (AES-256)")
            ciphers[key_id] = AESGCM(material)
        if active_key_id not in ciphers:
            raise VaultError(f"the active key id {active_key_id!r} is not among the vault's keys")
        self._ciphers = ciphers
        self._active = active_key_id

    # -- construction --------------------------------------------------------------------------------

    @staticmethod
    def generate_key() -> str:
        """A fresh random 256-bit key, standard base64, ready for the env var or a key file."""
        return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode("ascii")

    @classmethod
    def from_string(cls, text: str, *, source: str = "key list") -> CredentialVault:
        """Parse ``k2:<base64>,k1:<base64>`` (commas or newlines between keys); the first key is active.

        ``source`` names where the text came from in error messages.
        """
        entries = [part for line in text.splitlines() for part in line.split(",")]
        return cls._from_entries(entries, source=source)

    @classmethod
    def from_env(cls, var: str = DEFAULT_ENV_VAR, *, environ: Mapping[str, str] | None = None) -> CredentialVault:
        """Keys from an environment variable, ``k2:<base64>,k1:<base64>``; the first is active."""
        env = os.environ if environ is None else environ
        value = env.get(var)
        if value is None or not value.strip():
            raise VaultError(f"the environment variable {var} is not set or empty")
        return cls.from_string(value, source=f"environment variable {var}")

    @classmethod
    def from_key_file(cls, path: str | os.PathLike[str], *, allow_insecure: bool = False) -> CredentialVault:
        """Keys from a file: one ``id:base64`` a line, ``#`` starts a comment; the first key is active.

        On POSIX a file that other users can read or write is refused (as ssh refuses such a private
        key): whoever reads it can open every sealed credential. A group-readable file only logs a
        warning, for deployments that share keys with a service group. ``allow_insecure=True`` downgrades
        the refusal to a warning, e.g. for a secret volume whose container is the real boundary.
        """
        file = Path(path)
        try:
            mode = file.stat().st_mode
            if os.name == "posix":
                _check_permissions(file, mode, allow_insecure=allow_insecure)
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise VaultError(f"cannot read the key file {str(file)!r}: {exc.strerror or 'error'}") from None
        except UnicodeDecodeError:
            raise VaultError(f"the key file {str(file)!r} is not UTF-8 text") from None
        lines: list[str] = []
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            if line:
                lines.append(line)
        return cls._from_entries(lines, source=f"key file {str(file)!r}")

    @classmethod
    def _from_entries(cls, entries: list[str], *, source: str) -> CredentialVault:
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for position, raw in enumerate(entries, start=1):
            entry = raw.strip()
            if not entry:
                continue
            key_id, sep, encoded = entry.partition(":")
            key_id, encoded = key_id.strip(), encoded.strip()
            if not sep:
                raise VaultError(f"{source}: entry {position} is not of the form id:base64")
            _check_key_id(key_id, where=f"{source}: entry {position}")
            if key_id in keys:
                raise VaultError(f"{source}: key id {key_id!r} appears twice")
            try:
                material = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise VaultError(f"{source}: key {key_id!r} is not valid base64") from None
            if len(material) != _KEY_BYTES:
                raise VaultError(f"{source}: key {key_id!r} must decode to {_KEY_BYTES} bytes")
            keys[key_id] = material
            order.append(key_id)
        if not order:
            raise VaultError(f"{source}: no keys found")
        return cls(keys, active_key_id=order[0])

    # -- properties ----------------------------------------------------------------------------------

    @property
    def active_key_id(self) -> str:
        """The id of the key new envelopes are sealed under (the first of a key list or key file)."""
        return self._active

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id this vault can open with, in the order given: to see whether an old key can go."""
        return tuple(self._ciphers)

    # -- sealing -------------------------------------------------------------------------------------

    def seal(self, secret: Mapping[str, Any] | BaseModel, *, context: str) -> str:
        """Encrypt ``secret`` (a mapping or a pydantic model) for ``context`` under the active key.

        ``SecretStr`` values are revealed before encryption, so a model such as ``SikkaCredentials``
        comes back whole from [open][pms_connect.vault.CredentialVault.open].
        """
        plaintext = _serialise(secret)
        return self._seal_bytes(plaintext, context=context, key_id=self._active)

    @overload
    def open(self, token: str, *, context: str, model: None = None) -> dict[str, Any]: ...

    @overload
    def open(self, token: str, *, context: str, model: type[M]) -> M: ...

    def open(self, token: str, *, context: str, model: type[M] | None = None) -> dict[str, Any] | M:
        """Decrypt an envelope sealed for ``context``; a dict, or an instance of ``model`` if given."""
        plaintext = self._open_bytes(token, context=context)
        try:
            data = json.loads(plaintext.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise VaultError("the sealed secret is not a JSON object") from None
        if not isinstance(data, dict):
            raise VaultError("the sealed secret is not a JSON object")
        if model is None:
            return data
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            # A ValidationError quotes the input values; name only the fields and error types.
            problems = describe_validation_error(exc, model)
            raise VaultError(f"the sealed secret does not fit {model.__name__} ({problems})") from None

    def rotate(self, token: str, *, context: str) -> str:
        """Re-seal an envelope under the active key (with a fresh nonce); the old key must still be here."""
        old_key_id = self._parse(token)[0]
        plaintext = self._open_bytes(token, context=context)
        logger.debug("re-sealing an envelope from key %s to key %s", old_key_id, self._active)
        return self._seal_bytes(plaintext, context=context, key_id=self._active)

    def needs_rotation(self, token: str) -> bool:
        """Whether ``token`` was sealed under a key other than the active one.

        Does not decrypt. Raises [VaultError][pms_connect.errors.VaultError] for a malformed envelope or a key id
        this vault does not hold (such an envelope cannot be rotated here either).
        """
        key_id, _ = self._parse(token)
        if key_id not in self._ciphers:
            raise VaultError(f"the envelope names key id {key_id!r}, which this vault does not hold")
        return key_id != self._active

    # -- internals -----------------------------------------------------------------------------------

    def _seal_bytes(self, plaintext: bytes, *, context: str, key_id: str) -> str:
        aad = _associated_data(key_id, context)
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, plaintext, aad)
        payload = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")
        return f"{ENVELOPE_VERSION}.{key_id}.{payload}"

    def _open_bytes(self, token: str, *, context: str) -> bytes:
        key_id, blob = self._parse(token)
        aad = _associated_data(key_id, context)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise VaultError(f"the envelope names key id {key_id!r}, which this vault does not hold")
        try:
            return cipher.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], aad)
        except InvalidTag:
            raise VaultError(
                f"the envelope does not open under key {key_id!r}: wrong context, wrong key or altered"
            ) from None

    @staticmethod
    def _parse(token: str) -> tuple[str, bytes]:
        """Split and decode an envelope, strictly: anything not byte-for-byte canonical is refused."""
        if not isinstance(token, str):
            raise VaultError("an envelope must be a str")
        parts = token.split(".")
        if len(parts) != 3:
            raise VaultError("malformed envelope: expected version.key_id.payload")
        version, key_id, payload = parts
        if version != ENVELOPE_VERSION:
            raise VaultError(f"unsupported envelope version (expected {ENVELOPE_VERSION!r})")
        if not _KEY_ID.fullmatch(key_id):
            raise VaultError("malformed envelope: invalid key id")
        if not _B64URL.fullmatch(payload):
            raise VaultError("malformed envelope: the payload is not unpadded base64url")
        try:
            blob = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        except (binascii.Error, ValueError):
            raise VaultError("malformed envelope: the payload is not valid base64url") from None
        # Base64 may leave unused low bits in the last character; re-encoding pins them, so that no
        # character of the envelope can change without the envelope being refused.
        if base64.urlsafe_b64encode(blob).rstrip(b"=").decode("ascii") != payload:
            raise VaultError("malformed envelope: the payload is not canonical base64url")
        if len(blob) < _NONCE_BYTES + _TAG_BYTES:
            raise VaultError("malformed envelope: the payload is too short")
        return key_id, blob

    def __repr__(self) -> str:
        return f"CredentialVault(active_key_id={self._active!r}, key_ids={list(self._ciphers)!r})"

    def __reduce__(self) -> Any:
        # Pickling would copy key material into a byte string that may be stored or sent anywhere.
        raise TypeError("a CredentialVault cannot be pickled; build it from the environment or key file")


def _check_key_id(key_id: object, *, where: str | None = None) -> None:
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        prefix = f"{where}: " if where else ""
        # The text may be mistyped key material, so it is not echoed.
        raise VaultError(f"{prefix}a key id must be 1-64 letters, digits, '_' or '-'")


def _check_permissions(file: Path, mode: int, *, allow_insecure: bool) -> None:
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        if not allow_insecure:
            raise VaultError(
                f"the key file {str(file)!r} is accessible to other users (mode {stat.S_IMODE(mode):o}); "
                "run `chmod 600` on it, or pass allow_insecure=True"
            )
        logger.warning("the key file %s is accessible to other users", file)
    elif mode & (stat.S_IRGRP | stat.S_IWGRP):
        logger.warning("the key file %s is readable or writable by its group", file)


def _associated_data(key_id: str, context: str) -> bytes:
    """Version, key id and context, NUL-separated (neither the version nor a key id holds a NUL)."""
    if not isinstance(context, str) or not context:
        raise VaultError("a non-empty context (e.g. the account or practice id) is required")
    try:
        encoded_context = context.encode("utf-8")
    except UnicodeEncodeError:
        raise VaultError("the context is not encodable as UTF-8") from None
    return b"\x00".join((ENVELOPE_VERSION.encode("ascii"), key_id.encode("ascii"), encoded_context))


def _reveal(value: Any) -> Any:
    """Replace pydantic secrets with their values, recursively, so the sealed JSON round-trips."""
    get_secret = getattr(value, "get_secret_value", None)
    if callable(get_secret):
        return _reveal(get_secret())
    if isinstance(value, BaseModel):
        return _reveal(value.model_dump(mode="python", by_alias=True))
    if isinstance(value, Mapping):
        return {key: _reveal(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_reveal(item) for item in value]
    return value


def _serialise(secret: Mapping[str, Any] | BaseModel) -> bytes:
    if not isinstance(secret, (BaseModel, Mapping)):
        raise VaultError("a secret must be a mapping or a pydantic model")
    try:
        jsonable = to_jsonable_python(_reveal(secret))
        if not isinstance(jsonable, dict) or not all(isinstance(k, str) for k in jsonable):
            raise VaultError("a secret must serialise to a JSON object with string keys")
        return json.dumps(jsonable, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except (PydanticSerializationError, TypeError, ValueError):
        # The underlying message may quote a value of the secret.
        raise VaultError("the secret is not JSON-serialisable") from None
