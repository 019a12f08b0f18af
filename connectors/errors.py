"""custsync's exceptions, in one place. Each maps to an exit code of the CLI.

CustsyncError
├── InputError          exit 2: bad usage, file, mapping or configuration; nothing was sent
│   ├── ConfigError         a run's configuration has fields that are wrong (each named)
│   ├── MappingError        the mapping file names an unknown field or a missing column
│   ├── SourceError         a source cannot be read (missing, empty, wrong encoding)
│   ├── CredentialsError    no credentials for a remote target
│   └── RunLockedError      another run holds the state store
├── RunError            exit 1: the run started and had to stop
    ├── SandboxStartError   the embedded local sandbox did not start
    └── ApiStopError        the API answered so that no further request can succeed
        ├── AuthError           it refused the credentials (401/403)
        ├── TargetError         it is not the Customer API as configured (a redirect, say)
        │   └── UnreachableError    the run's first request never reached it
        └── ShardReplacedError  its migration gave this shard's run up and submitted another
└── CrmError            exit 3: the customers are synced, the write-back to the CRM is not done
                        (the CRM down, its credentials or its allocation refused)

Pure code (``schemas/``) raises plain ``ValueError`` subclasses of its own; the connector that
reads the file turns them into these.

A message names a setting as ``{field}`` (``schemas/messages.py``): it reads as the field's
name wherever custsync runs (a deployment's run: ``rate_limit``), and as the flag in the CLI
(``--rate-limit``): neither the engine nor a connector knows the CLI's flags.
"""

from __future__ import annotations

from schemas.messages import named


class CustsyncError(Exception):
    """Base of every error custsync reports as one line."""

    exit_code = 1

    @property
    def template(self) -> str:
        """The message as raised, its settings still ``{field}``."""
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        return named(self.template)


class InputError(CustsyncError):
    """The input or configuration is unusable; nothing was sent."""

    exit_code = 2


class ConfigError(InputError):
    """A run's configuration is wrong: ``problems`` names each field and what is wrong with it
    (a message may name another field as ``{field}``)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{{{field}}} {message}" for field, message in problems))
        self.problems = problems


class MappingError(InputError):
    """The mapping file is malformed or does not fit the source."""


class SourceError(InputError):
    """A source file cannot be read."""


class CredentialsError(InputError):
    """A remote target was chosen without credentials in the environment."""


class RunLockedError(InputError):
    """Another run holds the state store; this one sent nothing."""


class RunError(CustsyncError):
    """The run had to stop after it began."""

    exit_code = 1


class SandboxStartError(RunError):
    """The embedded local sandbox exited or stayed silent instead of listening."""


class ApiStopError(RunError):
    """An answer after which no request of the run can succeed: stop sending, at once."""


class ShardReplacedError(ApiStopError):
    """This attempt of a migration's shard was given up (its start or beats were late) and
    another submitted: it stops sending as at a stop, the requests in flight answered, so the
    shard is never synced by two at once."""


class AuthError(ApiStopError):
    """The API answered 401 or 403: the credentials are wrong, expired or not allowed."""


class TargetError(ApiStopError):
    """The target answered as the Customer API never does (a redirect): check --target."""


class UnreachableError(TargetError):
    """The run's first request never reached the target (refused, no such host, timed out):
    every other would fail alike, so none is tried."""


class CrmError(CustsyncError):
    """The CRM could not take the write-back (down, credentials refused, its API allocation
    spent, a job failed whole): the customers stay synced; what was not confirmed is offered
    again on the next run."""

    exit_code = 3
