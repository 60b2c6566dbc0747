"""CredentialVault: round trips, tamper detection, tenant binding, rotation, key loading, secrecy."""

from __future__ import annotations

import base64
import logging
import os
import pickle
import re
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from pms_connect.errors import VaultError
from pms_connect.sikka.credentials import SikkaCredentials
from pms_connect.vault import ENVELOPE_VERSION, CredentialVault

KEY1 = bytes(range(32))
KEY2 = bytes(range(32, 64))
KEY3 = bytes(range(64, 96))
CANARY_SECRET = "CANARY-secret-7f3a9c"
CANARY_APP_KEY = "CANARY-appkey-51d2e8"

B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def make_vault(*ids: str) -> CredentialVault:
    material = {"k1": KEY1, "k2": KEY2, "k3": KEY3}
    return CredentialVault({i: material[i] for i in ids}, active_key_id=ids[0])


def sikka_creds() -> SikkaCredentials:
    return SikkaCredentials(app_id="app-1", app_key=CANARY_APP_KEY, office_id="D12345", secret_key=CANARY_SECRET)


# -- round trips ------------------------------------------------------------------------------------------

contexts = st.text(min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(secret=st.dictionaries(st.text(max_size=20), st.text(max_size=60), max_size=8), context=contexts)
def test_any_mapping_of_text_round_trips(secret: dict[str, str], context: str) -> None:
    vault = make_vault("k1")
    envelope = vault.seal(secret, context=context)
    assert vault.open(envelope, context=context) == secret


@settings(max_examples=100, deadline=None)
@given(secret=st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=4), context=contexts)
def test_envelopes_are_printable_and_name_their_key(secret: dict[str, str], context: str) -> None:
    envelope = make_vault("k2", "k1").seal(secret, context=context)
    assert re.fullmatch(r"pmsv1\.k2\.[A-Za-z0-9_-]+", envelope)


def test_a_pydantic_model_round_trips_with_its_secret_values() -> None:
    vault = make_vault("k1")
    creds = sikka_creds()
    envelope = vault.seal(creds, context="acct-1")
    opened = vault.open(envelope, context="acct-1", model=SikkaCredentials)
    assert opened == creds
    assert opened.secret_key.get_secret_value() == CANARY_SECRET


def test_without_a_model_open_returns_a_dict_with_revealed_secrets() -> None:
    vault = make_vault("k1")
    opened = vault.open(vault.seal(sikka_creds(), context="acct-1"), context="acct-1")
    assert opened == {
        "app_id": "app-1",
        "app_key": CANARY_APP_KEY,
        "office_id": "D12345",
        "secret_key": CANARY_SECRET,
        "practice_id": "1",
    }


def test_secret_values_nested_in_a_mapping_are_revealed() -> None:
    vault = make_vault("k1")
    envelope = vault.seal({"outer": {"key": SecretStr("s3")}, "creds": sikka_creds()}, context="c")
    opened = vault.open(envelope, context="c")
    assert opened["outer"] == {"key": "s3"}
    assert opened["creds"]["secret_key"] == CANARY_SECRET


def test_each_seal_uses_a_fresh_nonce() -> None:
    vault = make_vault("k1")
    assert vault.seal({"a": "b"}, context="c") != vault.seal({"a": "b"}, context="c")


def test_a_secret_that_does_not_fit_the_model_raises_without_quoting_values() -> None:
    vault = make_vault("k1")
    envelope = vault.seal({"app_id": "app-1", "app_key": CANARY_APP_KEY}, context="c")
    with pytest.raises(VaultError, match="SikkaCredentials") as info:
        vault.open(envelope, context="c", model=SikkaCredentials)
    assert "office_id" in str(info.value)
    assert CANARY_APP_KEY not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


@pytest.mark.parametrize("secret", [["a", "list"], "text", 42, None])
def test_only_mappings_and_models_can_be_sealed(secret: object) -> None:
    with pytest.raises(VaultError, match="mapping or a pydantic model"):
        make_vault("k1").seal(secret, context="c")  # type: ignore[arg-type]


def test_an_unserialisable_value_raises_vault_error() -> None:
    with pytest.raises(VaultError, match="not JSON-serialisable"):
        make_vault("k1").seal({"a": object()}, context="c")


# -- tampering --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value_length", [0, 1, 2])  # blob lengths 0, 1 and 2 mod 3: every base64 tail
def test_every_single_character_substitution_is_detected(value_length: int) -> None:
    vault = make_vault("k1", "k2")
    envelope = vault.seal({"a": "x" * value_length}, context="acct-1")
    candidates = sorted(set(B64URL_ALPHABET + ".=+/ \x00é"))
    tampered_count = 0
    for position, original in enumerate(envelope):
        for replacement in candidates:
            if replacement == original:
                continue
            tampered = envelope[:position] + replacement + envelope[position + 1 :]
            with pytest.raises(VaultError):
                vault.open(tampered, context="acct-1")
            tampered_count += 1
    assert tampered_count >= len(envelope) * (len(candidates) - 1)


def test_every_deleted_or_duplicated_character_is_detected() -> None:
    vault = make_vault("k1")
    envelope = vault.seal({"a": "b"}, context="c")
    for position in range(len(envelope)):
        with pytest.raises(VaultError):
            vault.open(envelope[:position] + envelope[position + 1 :], context="c")
        with pytest.raises(VaultError):
            vault.open(envelope[:position] + envelope[position] + envelope[position:], context="c")


def test_every_single_bit_flip_of_the_sealed_bytes_is_detected() -> None:
    vault = make_vault("k1")
    envelope = vault.seal({"a": "b"}, context="c")
    prefix, payload = envelope.rsplit(".", 1)
    blob = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    for index in range(len(blob) * 8):
        flipped = bytearray(blob)
        flipped[index // 8] ^= 1 << (index % 8)
        forged = base64.urlsafe_b64encode(bytes(flipped)).rstrip(b"=").decode()
        with pytest.raises(VaultError, match="does not open"):
            vault.open(f"{prefix}.{forged}", context="c")


def test_relabelling_an_envelope_with_another_present_key_id_fails() -> None:
    vault = make_vault("k1", "k2")
    envelope = vault.seal({"a": "b"}, context="c")
    with pytest.raises(VaultError, match="does not open"):
        vault.open(envelope.replace(".k1.", ".k2.", 1), context="c")


def test_the_key_id_is_authenticated_even_when_two_ids_share_material() -> None:
    # Only the associated data can tell these apart: the relabelled envelope decrypts with the same key.
    vault = CredentialVault({"k1": KEY1, "k2": KEY1}, active_key_id="k1")
    envelope = vault.seal({"a": "b"}, context="c")
    with pytest.raises(VaultError, match="does not open under key 'k2'"):
        vault.open(envelope.replace(".k1.", ".k2.", 1), context="c")


# -- context binding --------------------------------------------------------------------------------------


def test_an_envelope_copied_to_another_tenant_does_not_open() -> None:
    vault = make_vault("k1")
    envelope = vault.seal(sikka_creds(), context="acct-1")
    with pytest.raises(VaultError, match="wrong context"):
        vault.open(envelope, context="acct-2")
    with pytest.raises(VaultError):
        vault.open(envelope, context="acct-1 ")  # no normalisation: the context is exact


@pytest.mark.parametrize("context", ["", None, 7])
def test_a_context_is_required(context: object) -> None:
    vault = make_vault("k1")
    envelope = vault.seal({"a": "b"}, context="c")
    with pytest.raises(VaultError, match="context"):
        vault.seal({"a": "b"}, context=context)  # type: ignore[arg-type]
    with pytest.raises(VaultError, match="context"):
        vault.open(envelope, context=context)  # type: ignore[call-overload]


def test_a_context_that_is_not_utf8_encodable_raises() -> None:
    with pytest.raises(VaultError, match="UTF-8"):
        make_vault("k1").seal({"a": "b"}, context="\ud800")


# -- wrong keys and malformed envelopes -------------------------------------------------------------------


def test_the_same_key_id_with_other_material_does_not_open() -> None:
    envelope = make_vault("k1").seal({"a": "b"}, context="c")
    impostor = CredentialVault({"k1": KEY2}, active_key_id="k1")
    with pytest.raises(VaultError, match="wrong key"):
        impostor.open(envelope, context="c")


def test_an_unknown_key_id_is_named() -> None:
    envelope = make_vault("k2").seal({"a": "b"}, context="c")
    with pytest.raises(VaultError, match="key id 'k2'"):
        make_vault("k1").open(envelope, context="c")


@pytest.mark.parametrize(
    "envelope",
    [
        "",
        "pmsv1",
        "pmsv1.k1",
        "pmsv1.k1.",
        "pmsv1..AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "pmsv2.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "PMSV1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "pmsv1.k1.AAAA",  # shorter than a nonce and a tag
        "pmsv1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  # padding is not part of the format
        "pmsv1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",  # standard, not url-safe, base64
        "pmsv1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  # an impossible base64 length
        "pmsv1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",  # non-canonical trailing bits
        "pmsv1.k 1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "pmsv1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.extra",
        " pmsv1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "pmsv1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
        "pmsv1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  # well-formed, but not sealed by this key
    ],
)
def test_malformed_envelopes_raise_vault_error(envelope: str) -> None:
    with pytest.raises(VaultError):
        make_vault("k1").open(envelope, context="c")


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(
        st.text(max_size=120),
        st.from_regex(r"pmsv1\.k[12]\.[A-Za-z0-9_=+/.-]{0,80}", fullmatch=True),
    )
)
def test_arbitrary_text_never_opens_and_only_raises_vault_error(text: str) -> None:
    with pytest.raises(VaultError):
        make_vault("k1", "k2").open(text, context="c")


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200))
def test_parsing_arbitrary_key_text_raises_only_vault_error(text: str) -> None:
    try:
        vault = CredentialVault.from_string(text)
    except VaultError:
        return
    assert vault.key_ids


def test_an_envelope_must_be_text() -> None:
    with pytest.raises(VaultError, match="str"):
        make_vault("k1").open(b"pmsv1.k1.AAAA", context="c")  # type: ignore[call-overload]


# -- rotation -----------------------------------------------------------------------------------------------


def test_rotation_across_three_keys() -> None:
    secret = {"secret_key": CANARY_SECRET}
    v1 = make_vault("k1")
    e1 = v1.seal(secret, context="acct")
    assert not v1.needs_rotation(e1)

    v2 = make_vault("k2", "k1")  # k2 added and made active; k1 kept to open old envelopes
    assert v2.needs_rotation(e1)
    assert v2.open(e1, context="acct") == secret
    e2 = v2.rotate(e1, context="acct")
    assert e2.startswith(f"{ENVELOPE_VERSION}.k2.")
    assert not v2.needs_rotation(e2)

    v3 = make_vault("k3", "k2", "k1")
    assert v3.needs_rotation(e1)
    assert v3.needs_rotation(e2)
    assert v3.open(e1, context="acct") == v3.open(e2, context="acct") == secret
    e3 = v3.rotate(e2, context="acct")
    assert e3.startswith(f"{ENVELOPE_VERSION}.k3.")
    assert not v3.needs_rotation(e3)

    retired = make_vault("k3", "k2")  # k1 retired: its envelopes no longer open
    assert retired.open(e3, context="acct") == secret
    with pytest.raises(VaultError, match="'k1'"):
        retired.open(e1, context="acct")
    with pytest.raises(VaultError, match="'k1'"):
        retired.needs_rotation(e1)
    with pytest.raises(VaultError, match="'k1'"):
        retired.rotate(e1, context="acct")


def test_rotation_keeps_the_context_binding() -> None:
    vault = make_vault("k2", "k1")
    e1 = make_vault("k1").seal({"a": "b"}, context="acct-1")
    with pytest.raises(VaultError):
        vault.rotate(e1, context="acct-2")
    rotated = vault.rotate(e1, context="acct-1")
    with pytest.raises(VaultError):
        vault.open(rotated, context="acct-2")


def test_rotating_an_envelope_under_the_active_key_reseals_it() -> None:
    vault = make_vault("k1")
    envelope = vault.seal({"a": "b"}, context="c")
    again = vault.rotate(envelope, context="c")
    assert again != envelope
    assert vault.open(again, context="c") == {"a": "b"}


def test_rotate_refuses_a_tampered_envelope() -> None:
    vault = make_vault("k2", "k1")
    envelope = make_vault("k1").seal({"a": "b"}, context="c")
    last = envelope[-2]
    tampered = envelope[:-2] + ("A" if last != "A" else "B") + envelope[-1]
    with pytest.raises(VaultError):
        vault.rotate(tampered, context="c")


# -- constructing a vault -------------------------------------------------------------------------------------


def test_generate_key_is_printable_base64_of_32_random_bytes() -> None:
    key = CredentialVault.generate_key()
    assert len(base64.b64decode(key, validate=True)) == 32
    assert key != CredentialVault.generate_key()
    vault = CredentialVault.from_string(f"k1:{key}")
    assert vault.open(vault.seal({"a": "b"}, context="c"), context="c") == {"a": "b"}


@pytest.mark.parametrize(
    ("keys", "active", "message"),
    [
        ({}, "k1", "at least one key"),
        ({"k1": b"short"}, "k1", "32 bytes"),
        ({"k1": KEY1 + b"x"}, "k1", "32 bytes"),
        ({"k1": b64(KEY1)}, "k1", "32 bytes"),  # base64 text where bytes were meant
        ({"k1": KEY1}, "k2", "active key id 'k2'"),
        ({"k.1": KEY1}, "k.1", "key id must be"),
        ({"": KEY1}, "", "key id must be"),
        ({"k" * 65: KEY1}, "k" * 65, "key id must be"),
    ],
)
def test_bad_key_material_is_refused(keys: dict[str, bytes], active: str, message: str) -> None:
    with pytest.raises(VaultError, match=message):
        CredentialVault(keys, active_key_id=active)


def test_from_env_reads_keys_and_makes_the_first_active() -> None:
    environ = {"PMS_CONNECT_VAULT_KEYS": f" k2:{b64(KEY2)} , k1:{b64(KEY1)} "}
    vault = CredentialVault.from_env(environ=environ)
    assert vault.active_key_id == "k2"
    assert vault.key_ids == ("k2", "k1")
    assert vault.open(make_vault("k1").seal({"a": "b"}, context="c"), context="c") == {"a": "b"}


def test_from_env_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_VAULT_KEYS", f"k3:{b64(KEY3)}")
    assert CredentialVault.from_env("MY_VAULT_KEYS").key_ids == ("k3",)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "not set"),
        ("", "not set"),
        ("   ", "not set"),
        ("k1", "id:base64"),
        (f"{b64(KEY1)}", "id:base64"),
        ("k1:not base64!", "not valid base64"),
        (f"k1:{b64(KEY1)[:-4]}", "not valid base64|32 bytes"),
        (f"k1:{base64.b64encode(KEY1[:16]).decode()}", "32 bytes"),
        (f"k1:{base64.urlsafe_b64encode(bytes([251] * 32)).decode()}", "not valid base64"),
        (f"k1:{b64(KEY1)},k1:{b64(KEY2)}", "appears twice"),
        (f"k/1:{b64(KEY1)}", "key id must be"),
        (f":{b64(KEY1)}", "key id must be"),
        (",", "no keys"),
    ],
)
def test_from_env_refuses_malformed_values(value: str | None, message: str) -> None:
    environ = {} if value is None else {"PMS_CONNECT_VAULT_KEYS": value}
    with pytest.raises(VaultError, match=message):
        CredentialVault.from_env(environ=environ)


def write_key_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_from_key_file_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    text = f"# pms_connect vault keys, newest first\n\nk3:{b64(KEY3)}   # added 2026-11\n  k2:{b64(KEY2)}\n"
    vault = CredentialVault.from_key_file(write_key_file(tmp_path / "keys", text))
    assert vault.active_key_id == "k3"
    assert vault.key_ids == ("k3", "k2")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no keys"),
        ("# only a comment\n", "no keys"),
        (f"k1 {b64(KEY1)}\n", "entry 1 is not of the form"),
        (f"k1:{b64(KEY1)}\nk2:{b64(KEY2)[:-2]}\n", "'k2' is not valid base64"),
        (f"k1:{b64(KEY1)}\nk1:{b64(KEY2)}\n", "appears twice"),
    ],
)
def test_from_key_file_refuses_malformed_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(VaultError, match=message):
        CredentialVault.from_key_file(write_key_file(tmp_path / "keys", text))


def test_a_missing_or_binary_key_file_raises_vault_error(tmp_path: Path) -> None:
    with pytest.raises(VaultError, match="cannot read the key file"):
        CredentialVault.from_key_file(tmp_path / "absent")
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00k1")
    binary.chmod(0o600)
    with pytest.raises(VaultError, match="not UTF-8"):
        CredentialVault.from_key_file(binary)


posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


@posix_only
@pytest.mark.parametrize("mode", [0o644, 0o604, 0o602, 0o666])
def test_a_key_file_other_users_can_access_is_refused(tmp_path: Path, mode: int) -> None:
    path = write_key_file(tmp_path / "keys", f"k1:{b64(KEY1)}\n", mode)
    with pytest.raises(VaultError, match="chmod 600"):
        CredentialVault.from_key_file(path)


@posix_only
def test_allow_insecure_downgrades_the_refusal_to_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_key_file(tmp_path / "keys", f"k1:{b64(KEY1)}\n", 0o644)
    with caplog.at_level(logging.WARNING, logger="pms_connect.vault"):
        vault = CredentialVault.from_key_file(path, allow_insecure=True)
    assert vault.key_ids == ("k1",)
    assert "other users" in caplog.text


@posix_only
def test_a_group_readable_key_file_loads_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_key_file(tmp_path / "keys", f"k1:{b64(KEY1)}\n", 0o640)
    with caplog.at_level(logging.WARNING, logger="pms_connect.vault"):
        CredentialVault.from_key_file(path)
    assert "group" in caplog.text
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


# -- nothing secret leaks -----------------------------------------------------------------------------------


def test_no_key_material_or_plaintext_in_messages_logs_or_reprs(caplog: pytest.LogCaptureFixture) -> None:
    key_texts = [b64(k) for k in (KEY1, KEY2, KEY3)] + [k.hex() for k in (KEY1, KEY2, KEY3)]
    canaries = [CANARY_SECRET, CANARY_APP_KEY, *key_texts]
    seen: list[str] = []

    def record(exc: BaseException) -> None:
        seen.extend([str(exc), repr(exc), repr(exc.args)])
        if exc.__cause__ is not None:
            seen.append(repr(exc.__cause__))

    caplog.set_level(logging.DEBUG)
    old = make_vault("k1")
    vault = make_vault("k3", "k2", "k1")
    envelope = old.seal(sikka_creds(), context="acct-1")
    rotated = vault.rotate(envelope, context="acct-1")
    seen.extend([repr(vault), str(vault), repr(old), envelope, rotated])
    for attempt in (
        lambda: vault.open(envelope, context="acct-2"),
        lambda: vault.open(envelope[:-3] + "AAA", context="acct-1"),
        lambda: make_vault("k2").open(envelope, context="acct-1"),
        lambda: CredentialVault({"k1": KEY2}, "k1").open(envelope, context="acct-1"),
        lambda: vault.open(
            vault.seal({"secret_key": CANARY_SECRET}, context="c"), context="c", model=SikkaCredentials
        ),
        lambda: vault.seal({"secret_key": CANARY_SECRET, "x": object()}, context="c"),
        lambda: vault.seal({"secret_key": CANARY_SECRET}, context=""),
        lambda: CredentialVault.from_string(f"k1:{b64(KEY1)}x"),
        lambda: CredentialVault.from_string(f"{b64(KEY1)}:{b64(KEY2)}"),
        lambda: CredentialVault.from_string(f"k1:{b64(KEY1)[:20]}"),
        lambda: CredentialVault.from_string(b64(KEY1)),
        lambda: CredentialVault({"k1": b64(KEY1).encode()}, "k1"),
    ):
        with pytest.raises(VaultError) as info:
            attempt()
        record(info.value)
    seen.append(caplog.text)
    assert "k3" in caplog.text  # the rotation was logged, by key id
    haystack = "\n".join(seen)
    for canary in canaries:
        assert canary not in haystack
    assert CANARY_SECRET not in envelope


def test_a_vault_cannot_be_pickled() -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(make_vault("k1"))


def test_repr_shows_key_ids_only() -> None:
    assert repr(make_vault("k2", "k1")) == "CredentialVault(active_key_id='k2', key_ids=['k2', 'k1'])"
