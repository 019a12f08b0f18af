"""custsync's exceptions, in one place. Each maps to an exit code of the CLI.

CustsyncError
├── InputError          exit 2: bad usage, file, mapping or configuration; nothing was sent
│   ├── MappingError        the mapping file names an unknown field or a missing column
│   └── SourceError         a source cannot be read (missing, empty, wrong encoding)
├── CredentialsError    exit 2: no credentials for a remote target; nothing was sent
└── RunError            exit 1: the run started and had to stop
    └── AuthError           the API refused the credentials (401/403)
"""

from __future__ import annotations


class CustsyncError(Exception):
    """Base of every error custsync reports as one line."""

    exit_code = 1


class InputError(CustsyncError):
    """The input or configuration is unusable; nothing was sent."""

    exit_code = 2


class MappingError(InputError):
    """The mapping file is malformed or does not fit the source."""


class SourceError(InputError):
    """A source file cannot be read."""


class CredentialsError(InputError):
    """A remote target was chosen without credentials in the environment."""


class RunError(CustsyncError):
    """The run had to stop after it began."""

    exit_code = 1


class AuthError(RunError):
    """The API answered 401 or 403: the credentials are wrong, expired or not allowed."""
