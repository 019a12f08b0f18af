"""The sandbox's command line, generated from its settings: every ``FaultSettings`` field is a
flag of its name (``rate_limit`` -> ``--rate-limit``), with the field's help, type and default.

``python -m sandbox ...`` and ``custsync sandbox ...`` both run ``main``; ``SandboxProcess``
builds its child's command line with ``knob_arguments``, the inverse of the parser.
"""

from __future__ import annotations

import argparse
import os
import sys
import types
import typing
from dataclasses import fields
from typing import Any

from sandbox.auth import AuthConfig, CrmLogins, parse_user_pairs
from sandbox.faults import FaultSettings

USERS_ENV = "CUSTSYNC_SANDBOX_USERS"
READ_ONLY_USERS_ENV = "CUSTSYNC_SANDBOX_READ_ONLY_USERS"
JWT_SECRET_ENV = "CUSTSYNC_SANDBOX_JWT_SECRET"
# What the CRM stand-ins accept (sandbox/salesforce.py, sandbox/hubspot.py); none: any token.
SALESFORCE_TOKENS_ENV = "CUSTSYNC_SANDBOX_SALESFORCE_TOKENS"
SALESFORCE_CLIENT_ENV = "CUSTSYNC_SANDBOX_SALESFORCE_CLIENT"  # "client_id:client_secret"
HUBSPOT_TOKENS_ENV = "CUSTSYNC_SANDBOX_HUBSPOT_TOKENS"
# The process that started the sandbox (SandboxProcess): it serves only while that one lives.
PARENT_PID_ENV = "CUSTSYNC_SANDBOX_PARENT_PID"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _value_type(annotation: Any) -> Any:
    """``float | None`` -> float; ``int`` -> int."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return inner
    return annotation


def parser(prog: str = "custsync sandbox") -> argparse.ArgumentParser:
    """The sandbox's argument parser: where and as whom it serves, then every knob."""
    p = argparse.ArgumentParser(
        prog=prog,
        description="Run the local Customer API in the foreground (Ctrl-C stops it).",
        allow_abbrev=False,
    )
    p.add_argument("--host", default="127.0.0.1", help="Bind address (loopback by default).")
    p.add_argument("--port", type=int, default=8765, help="Port; 0 picks a free one.")
    # Not the embedded local target's file (.custsync/sandbox.db): that one holds the shoppers
    # `custsync sync` sent there, and this server may be open to any credentials.
    p.add_argument("--db", default=".custsync/standalone-sandbox.db",
                   help="SQLite file for the customers, or :memory:.")  # fmt: skip
    p.add_argument(
        "--user",
        action="append",
        help=f"Accepted Basic credentials UID:KEY (repeatable; env {USERS_ENV}).",
    )
    p.add_argument("--read-only-user", action="append",
                   help="Basic credentials UID:KEY that may read but not write (403; env "
                        f"{READ_ONLY_USERS_ENV}).")  # fmt: skip
    p.add_argument(
        "--jwt-secret", help=f"Accept HS256 Bearer JWTs signed with this (env {JWT_SECRET_ENV})."
    )
    p.add_argument("--seed", type=int, help="Seed for the fault dice.")
    knobs = p.add_argument_group("gateway and faults")
    hints = typing.get_type_hints(FaultSettings)
    for knob in fields(FaultSettings):
        kind = _value_type(hints[knob.name])
        help_text = knob.metadata.get("help", "")
        if kind is bool:
            knobs.add_argument(_flag(knob.name), dest=knob.name, action="store_true",
                               help=help_text)  # fmt: skip
            continue
        choices = knob.metadata.get("choices")
        knobs.add_argument(_flag(knob.name), dest=knob.name, type=kind, default=knob.default,
                           choices=choices, help=help_text)  # fmt: skip
    return p


def settings_from(arguments: argparse.Namespace) -> FaultSettings:
    """The knobs parsed (ValueError naming the first one out of range)."""
    return FaultSettings(**{k.name: getattr(arguments, k.name) for k in fields(FaultSettings)})


def knob_arguments(settings: FaultSettings) -> list[str]:
    """The flags that give ``settings``: every knob not at its default."""
    arguments: list[str] = []
    defaults = FaultSettings()
    for knob in fields(FaultSettings):
        value = getattr(settings, knob.name)
        if value == getattr(defaults, knob.name):
            continue
        arguments += [_flag(knob.name)] if value is True else [_flag(knob.name), str(value)]
    return arguments


def _pairs(values: list[str] | None, env: str) -> list[str]:
    # From the environment the pairs arrive as one space-separated string.
    raw = values if values else [os.environ.get(env, "")]
    return [pair for value in raw for pair in value.split()]


def crm_logins(env: os._Environ[str] | dict[str, str]) -> CrmLogins:
    """The CRM stand-ins' tokens and client credentials, from the environment (never flags)."""
    client = env.get(SALESFORCE_CLIENT_ENV, "")
    if client and ":" not in client:
        raise ValueError(f"{SALESFORCE_CLIENT_ENV} must be client_id:client_secret")
    client_id, _, secret = client.partition(":")
    return CrmLogins(
        salesforce_tokens=tuple(env.get(SALESFORCE_TOKENS_ENV, "").split()),
        salesforce_client=(client_id, secret) if client else None,
        hubspot_tokens=tuple(env.get(HUBSPOT_TOKENS_ENV, "").split()),
    )


def main(argv: list[str] | None = None, prog: str = "custsync sandbox") -> int:
    """Parse, check, serve until interrupted; 2 with one line on stderr for a bad value."""
    arguments = parser(prog).parse_args(argv)
    try:
        auth = AuthConfig(
            users=parse_user_pairs(_pairs(arguments.user, USERS_ENV)),
            read_only_users=parse_user_pairs(_pairs(arguments.read_only_user, READ_ONLY_USERS_ENV)),
            jwt_secret=arguments.jwt_secret or os.environ.get(JWT_SECRET_ENV) or None,
        )
        faults = settings_from(arguments)
        crm = crm_logins(os.environ)
    except ValueError as exc:
        print(f"custsync: error: {exc}", file=sys.stderr)
        return 2
    if arguments.host not in LOOPBACK:
        print("custsync: warning: the sandbox is listening beyond loopback", file=sys.stderr)
    from sandbox.server import SandboxConfig, serve

    serve(SandboxConfig(host=arguments.host, port=arguments.port, db=arguments.db, auth=auth,
                        faults=faults, seed=arguments.seed, crm=crm))  # fmt: skip
    return 0
