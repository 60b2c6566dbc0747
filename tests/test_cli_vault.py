"""``pms-connect vault``: keygen, seal, open and rotate through stdin and stdout."""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import selectors
import signal
import stat
import subprocess
import sys
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


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(argv: list[str], stdin: str | io.StringIO = "", keys: str | None = K1) -> Result:
    out, err = io.StringIO(), io.StringIO()
    environ = {} if keys is None else {"PMS_CONNECT_VAULT_KEYS": keys}
    source = io.StringIO(stdin) if isinstance(stdin, str) else stdin
    code = run_vault_command(argv, stdin=source, stdout=out, stderr=err, environ=environ)
    return Result(code, out.getvalue(), err.getvalue())


POSIX_MODES = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


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


@POSIX_MODES
def test_keygen_out_writes_a_private_key_file_and_prints_the_id(tmp_path: Path) -> None:
    key_file = tmp_path / "k1.key"
    result = run(["vault", "keygen", "--id", "k1", "--out", str(key_file)], keys=None)
    assert (result.code, result.out, result.err) == (0, "k1\n", "")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert CredentialVault.from_key_file(key_file).active_key_id == "k1"
    sealed = run(["vault", "seal", "--context", "a", "--key-file", str(key_file)], stdin="{}", keys=None)
    assert sealed.code == 0, sealed.err


def test_keygen_out_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    key_file = tmp_path / "k1.key"
    key_file.write_text("kept\n", encoding="utf-8")
    result = run(["vault", "keygen", "--out", str(key_file)], keys=None)
    assert result.code == 2
    assert result.out == ""
    assert result.err.count("\n") == 1
    assert "already exists; pass --force" in result.err
    assert key_file.read_text(encoding="utf-8") == "kept\n"


@POSIX_MODES
def test_keygen_out_force_overwrites_and_makes_the_file_private(tmp_path: Path) -> None:
    key_file = tmp_path / "k1.key"
    key_file.write_text("old\n", encoding="utf-8")
    key_file.chmod(0o644)
    result = run(["vault", "keygen", "--id", "k2", "--out", str(key_file), "--force"], keys=None)
    assert (result.code, result.out) == (0, "k2\n")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert CredentialVault.from_key_file(key_file).active_key_id == "k2"


def test_keygen_out_into_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    result = run(["vault", "keygen", "--out", str(tmp_path / "nowhere" / "k.key")], keys=None)
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "cannot write" in result.err


@POSIX_MODES
def test_a_key_file_open_to_others_is_refused_with_the_chmod_to_run(tmp_path: Path) -> None:
    key_file = tmp_path / "k1.key"
    key_file.write_text(K1 + "\n", encoding="utf-8")  # what `vault keygen > k1.key` leaves
    key_file.chmod(0o644)
    result = run(["vault", "seal", "--context", "a", "--key-file", str(key_file)], stdin="{}", keys=None)
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert f"chmod 600 {key_file}" in result.err
    assert "--out" in result.err
    assert "allow_insecure" not in result.err


@pytest.mark.parametrize(
    ("command", "stdin", "what"),
    [("seal", json.dumps(SECRET), "the JSON object to seal"), ("open", "", "the envelope to open")],
)
def test_reading_a_terminal_first_says_what_to_type(command: str, stdin: str, what: str) -> None:
    if command == "open":
        stdin = run(["vault", "seal", "--context", "a"], stdin=json.dumps(SECRET)).out
    result = run(["vault", command, "--context", "a"], stdin=Terminal(stdin))
    assert result.code == 0, result.err
    assert result.err.count("\n") == 1
    assert what in result.err
    assert ("Ctrl-Z" if sys.platform == "win32" else "Ctrl-D") in result.err


def test_the_rotate_prompt_and_no_prompt_from_a_pipe() -> None:
    envelope = run(["vault", "seal", "--context", "a"], stdin=json.dumps(SECRET)).out
    on_terminal = run(["vault", "rotate", "--context", "a"], stdin=Terminal(envelope))
    assert "the envelope to re-seal" in on_terminal.err
    for command, stdin in (("seal", json.dumps(SECRET)), ("open", envelope), ("rotate", envelope)):
        piped = run(["vault", command, "--context", "a"], stdin=stdin)
        assert (piped.code, piped.err) == (0, "")


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal and SIGINT to a child process")
def test_ctrl_c_while_seal_waits_on_a_terminal_exits_130() -> None:
    import pty

    controller, terminal = pty.openpty()
    env = {**os.environ, "PMS_CONNECT_VAULT_KEYS": K1, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        [sys.executable, "-m", "pms_connect.cli", "vault", "seal", "--context", "a"],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    os.close(terminal)
    try:
        assert child.stderr is not None
        with selectors.DefaultSelector() as selector:  # a guard, not a measure: without a prompt, fail
            selector.register(child.stderr, selectors.EVENT_READ)
            assert selector.select(timeout=60), "seal printed no prompt"
        prompt = child.stderr.readline()  # the prompt: seal now waits on the terminal
        assert "Ctrl-D" in prompt, prompt
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(controller)
    assert child.returncode == 130, err
    assert out == ""
    assert err == "pms-connect: interrupted\n"


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
