"""``pms-connect vault``: keygen, seal, open and rotate through stdin and stdout."""

from __future__ import annotations

import argparse
import base64
import io
import json
from pathlib import Path

import pytest

from pms_connect._cli_vault import add_vault_commands, run_vault_args, run_vault_command
from pms_connect.vault import CredentialVault

K1 = "k1:" + base64.b64encode(bytes(range(32))).decode()
K2 = "k2:" + base64.b64encode(bytes(range(32, 64))).decode()
SECRET = {"app_id": "app-1", "secret_key": "CANARY-cli-secret-0c4d"}


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


def run(argv: list[str], stdin: str = "", keys: str | None = K1) -> Result:
    out, err = io.StringIO(), io.StringIO()
    environ = {} if keys is None else {"PMS_CONNECT_VAULT_KEYS": keys}
    code = run_vault_command(argv, stdin=io.StringIO(stdin), stdout=out, stderr=err, environ=environ)
    return Result(code, out.getvalue(), err.getvalue())


def test_keygen_prints_an_id_and_a_usable_key() -> None:
    result = run(["vault", "keygen", "--id", "k3"], keys=None)
    assert result.code == 0
    assert result.err == ""
    line = result.out.strip()
    assert line.startswith("k3:")
    vault = CredentialVault.from_string(line)
    assert vault.active_key_id == "k3"


def test_keygen_defaults_to_a_dated_id() -> None:
    result = run(["vault", "keygen"], keys=None)
    assert result.code == 0
    key_id = result.out.split(":", 1)[0]
    assert key_id.startswith("k")
    assert key_id[1:].isdigit()
    assert len(key_id) == 9


def test_keygen_refuses_an_id_a_vault_would_refuse() -> None:
    result = run(["vault", "keygen", "--id", "bad:id"], keys=None)
    assert result.code == 2
    assert result.out == ""
    assert "key id" in result.err


def test_seal_then_open_round_trips() -> None:
    sealed = run(["vault", "seal", "--context", "acct-1"], stdin=json.dumps(SECRET))
    assert sealed.code == 0, sealed.err
    envelope = sealed.out.strip()
    assert envelope.startswith("pmsv1.k1.")
    assert SECRET["secret_key"] not in envelope
    opened = run(["vault", "open", "--context", "acct-1"], stdin=envelope + "\n")
    assert opened.code == 0, opened.err
    assert json.loads(opened.out) == SECRET


def test_open_with_another_context_fails_with_one_line_on_stderr() -> None:
    envelope = run(["vault", "seal", "--context", "acct-1"], stdin=json.dumps(SECRET)).out
    result = run(["vault", "open", "--context", "acct-2"], stdin=envelope)
    assert result.code == 2
    assert result.out == ""
    assert result.err.count("\n") == 1
    assert "wrong context" in result.err


def test_rotate_reseals_under_the_active_key() -> None:
    envelope = run(["vault", "seal", "--context", "acct-1"], stdin=json.dumps(SECRET), keys=K1).out
    rotated = run(["vault", "rotate", "--context", "acct-1"], stdin=envelope, keys=f"{K2},{K1}")
    assert rotated.code == 0, rotated.err
    assert rotated.out.startswith("pmsv1.k2.")
    opened = run(["vault", "open", "--context", "acct-1"], stdin=rotated.out, keys=K2)
    assert json.loads(opened.out) == SECRET


def test_keys_can_come_from_a_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "vault.keys"
    key_file.write_text(f"# keys\n{K2}\n{K1}\n", encoding="utf-8")
    key_file.chmod(0o600)
    result = run(["vault", "seal", "--context", "a", "--key-file", str(key_file)], stdin="{}", keys=None)
    assert result.code == 0, result.err
    assert result.out.startswith("pmsv1.k2.")


@pytest.mark.parametrize(
    ("argv", "stdin", "keys", "message"),
    [
        (["vault", "seal", "--context", "a"], "{}", None, "PMS_CONNECT_VAULT_KEYS is not set"),
        (["vault", "seal", "--context", "a"], "{}", "k1:no!pe", "not valid base64"),
        (["vault", "seal", "--context", "a"], '{"a": ', K1, "not valid JSON"),
        (["vault", "seal", "--context", "a"], '["a"]', K1, "JSON object"),
        (["vault", "seal", "--context", ""], "{}", K1, "context"),
        (["vault", "open", "--context", "a"], "", K1, "stdin is empty"),
        (["vault", "open", "--context", "a"], "garbage", K1, "malformed envelope"),
        (["vault", "rotate", "--context", "a"], "pmsv1.k9.AAAA", K1, "malformed envelope"),
        (["vault", "seal"], "{}", K1, "--context"),
        (["vault", "seal", "--context", "a", "--key-file", "/nonexistent/keys"], "{}", None, "key file"),
        (["vault"], "", K1, "required"),
        (["vault", "frobnicate"], "", K1, "invalid choice"),
    ],
)
def test_errors_exit_2_with_one_line_on_stderr(
    argv: list[str], stdin: str, keys: str | None, message: str
) -> None:
    result = run(argv, stdin=stdin, keys=keys)
    assert result.code == 2
    assert result.out == ""
    assert result.err.count("\n") == 1
    assert message in result.err


def test_secrets_in_stdin_never_reach_stderr() -> None:
    canary = "CANARY-in-bad-json-77e1"
    result = run(["vault", "seal", "--context", "a"], stdin=f'{{"k": "{canary}" oops}}')
    assert result.code == 2
    assert canary not in result.err


def test_the_commands_mount_on_another_parser() -> None:
    parser = argparse.ArgumentParser(prog="pms-connect")
    add_vault_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["vault", "seal", "--context", "acct-1"])
    out, err = io.StringIO(), io.StringIO()
    code = run_vault_args(
        args, stdin=io.StringIO("{}"), stdout=out, stderr=err, environ={"PMS_CONNECT_VAULT_KEYS": K1}
    )
    assert code == 0
    assert out.getvalue().startswith("pmsv1.k1.")
