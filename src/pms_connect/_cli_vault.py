"""``pms-connect vault keygen | seal | open | rotate``: the vault from a shell.

Secrets and envelopes travel on stdin and stdout, never in arguments, which other users can read in the
process list and which shells keep in their history. Keys come from ``--key-file`` or the
``PMS_CONNECT_VAULT_KEYS`` environment variable; ``keygen --out FILE`` writes a key file only its owner can
read. Reading from a terminal, a command first says on stderr what to type. Any failure prints one line to
stderr and exits 2.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shlex
import sys
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import NoReturn, TextIO, TypeVar

from pms_connect.errors import VaultError
from pms_connect.vault import DEFAULT_ENV_VAR, CredentialVault

__all__ = ["add_vault_commands", "run_vault_args", "run_vault_command"]

EXIT_OK = 0
EXIT_ERROR = 2

_P = TypeVar("_P", bound=argparse.ArgumentParser)
_Handler = Callable[[argparse.Namespace, "_Io"], None]
_END_OF_INPUT = "Ctrl-Z then Enter" if sys.platform == "win32" else "Ctrl-D"


class _Io:
    def __init__(self, stdin: TextIO, stdout: TextIO, stderr: TextIO, environ: Mapping[str, str]) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.environ = environ


class _UsageError(Exception):
    """An argparse error, raised instead of exiting so that ``run_vault_command`` can report it."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def add_vault_commands(subparsers: argparse._SubParsersAction[_P]) -> None:
    """Register ``vault`` and its subcommands; run the parsed namespace with ``run_vault_args``."""
    vault = subparsers.add_parser(
        "vault",
        help="seal, open and rotate credentials with the credential vault",
        description="Secrets and envelopes are read from stdin, never from arguments.",
    )
    commands = vault.add_subparsers(dest="vault_command", metavar="COMMAND", required=True)

    keygen = commands.add_parser("keygen", help="print a new key as id:base64, or write it to a file")
    keygen.add_argument("--id", dest="key_id", help="the key id (default: k<UTC date>, e.g. k20261124)")
    keygen.add_argument(
        "--out", metavar="FILE", help="write the key line to FILE, created with mode 0600; print only the id"
    )
    keygen.add_argument("--force", action="store_true", help="with --out: overwrite FILE if it exists")
    keygen.set_defaults(vault_handler=_keygen)

    for name, handler, text in (
        ("seal", _seal, "read a JSON object on stdin, print its envelope"),
        ("open", _open, "read an envelope on stdin, print the JSON object"),
        ("rotate", _rotate, "read an envelope on stdin, print it re-sealed under the active key"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument(
            "--context", required=True, help="the owner the secret is bound to, e.g. the account id"
        )
        command.add_argument("--key-file", help=f"a key file (one id:base64 a line); default: ${DEFAULT_ENV_VAR}")
        command.set_defaults(vault_handler=handler)


def run_vault_args(
    args: argparse.Namespace,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Run a namespace parsed by a parser that ``add_vault_commands`` extended; the exit status."""
    err = stderr or sys.stderr
    io = _Io(stdin or sys.stdin, stdout or sys.stdout, err, os.environ if environ is None else environ)
    handler: _Handler = args.vault_handler
    try:
        handler(args, io)
    except VaultError as exc:
        print(f"pms-connect vault: error: {exc.message}", file=err)
        return EXIT_ERROR
    return EXIT_OK


def run_vault_command(
    argv: list[str],
    *,
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Parse and run ``argv`` as ``pms-connect`` arguments (``["vault", "seal", "--context", ...]``)."""
    parser = _Parser(prog="pms-connect")
    add_vault_commands(parser.add_subparsers(dest="command", required=True))
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(f"pms-connect: error: {exc}", file=stderr)
        return EXIT_ERROR
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    return run_vault_args(args, stdin=stdin, stdout=stdout, stderr=stderr, environ=environ)


# -- handlers ------------------------------------------------------------------------------------------


def _vault(args: argparse.Namespace, io: _Io) -> CredentialVault:
    if not args.key_file:
        return CredentialVault.from_env(environ=io.environ)
    try:
        return CredentialVault.from_key_file(args.key_file)
    except VaultError as exc:
        if "allow_insecure" not in exc.message:
            raise
        # The vault's message names its Python argument; from a shell, the fix is chmod.
        raise VaultError(
            f"the key file {args.key_file!r} is accessible to other users: run `chmod 600 "
            f"{shlex.quote(args.key_file)}` (`pms-connect vault keygen --out FILE` creates key files so)"
        ) from None


def _keygen(args: argparse.Namespace, io: _Io) -> None:
    key_id = args.key_id or "k" + datetime.now(timezone.utc).strftime("%Y%m%d")
    key = CredentialVault.generate_key()
    # Build a vault with it, so that an id a vault would refuse fails now rather than at deploy time.
    CredentialVault({key_id: base64.b64decode(key)}, active_key_id=key_id)
    if args.out is None:
        print(f"{key_id}:{key}", file=io.stdout)
        return
    _write_private(args.out, f"{key_id}:{key}\n", overwrite=args.force)
    print(key_id, file=io.stdout)


def _write_private(path: str, text: str, *, overwrite: bool) -> None:
    """Write ``text`` to a file only its owner can read and write (mode 0600), new unless ``overwrite``."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            os.chmod(path, 0o600)  # an existing file (--force) keeps its old mode otherwise
            file.write(text)
    except FileExistsError:
        raise VaultError(f"{path!r} already exists; pass --force to overwrite it") from None
    except OSError as exc:
        raise VaultError(f"cannot write {path!r}: {exc.strerror or 'error'}") from None


def _seal(args: argparse.Namespace, io: _Io) -> None:
    vault = _vault(args, io)
    try:
        data = json.loads(_read_stdin(io, "the JSON object to seal"))
    except ValueError:
        # The decoder's message can quote the input, which is a secret.
        raise VaultError("stdin is not valid JSON") from None
    if not isinstance(data, dict):
        raise VaultError("stdin must hold a JSON object")
    print(vault.seal(data, context=args.context), file=io.stdout)


def _open(args: argparse.Namespace, io: _Io) -> None:
    vault = _vault(args, io)
    data = vault.open(_read_envelope(io, "the envelope to open"), context=args.context)
    print(json.dumps(data, ensure_ascii=False), file=io.stdout)


def _rotate(args: argparse.Namespace, io: _Io) -> None:
    vault = _vault(args, io)
    print(vault.rotate(_read_envelope(io, "the envelope to re-seal"), context=args.context), file=io.stdout)


def _read_envelope(io: _Io, what: str) -> str:
    envelope = _read_stdin(io, what).strip()
    if not envelope:
        raise VaultError("stdin is empty; expected an envelope")
    return envelope


def _read_stdin(io: _Io, what: str) -> str:
    """All of stdin; on a terminal, first a line on stderr saying what to type and how to end."""
    if io.stdin.isatty():
        print(f"Type or paste {what}, then press {_END_OF_INPUT} on a new line:", file=io.stderr, flush=True)
    return io.stdin.read()
