"""Where a run sends its requests: a named target or URL with credentials from the environment,
or the embedded local sandbox, started only when the first request needs it."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from connectors.api.targets import LOCAL, TARGETS, Credentials, resolve_target
from connectors.errors import SandboxStartError

log = logging.getLogger("custsync.target")

LOCAL_SANDBOX_DB = ".custsync/sandbox.db"


class Target:
    """The API of a run; the embedded sandbox starts on first use, so a run with nothing to
    send (an unchanged night, a dry run) never starts it."""

    def __init__(
        self,
        base_url: str | None,
        credentials: Credentials,
        description: str,
        start: Callable[[], str] | None = None,
        identity: str | None = None,
    ) -> None:
        self._base_url = base_url
        self.credentials = credentials
        self.description = description
        self._start = start
        # Which API this is, for the state store's pins (targets.py): the base URL, or the
        # embedded sandbox's data file (its URL changes every run).
        self.identity = identity or (base_url or description).rstrip("/")

    @property
    def base_url(self) -> str:
        """The API's base URL (starting the embedded sandbox if this is its first use)."""
        if self._base_url is None:
            if self._start is None:
                raise RuntimeError("this target has no API")
            self._base_url = self._start()
            log.info("embedded sandbox started at %s", self._base_url)
        return self._base_url


@contextmanager
def open_target(target: str, credentials: Credentials | None = None) -> Iterator[Target]:
    """The API to talk to; for ``local``, the embedded sandbox (started when first needed,
    stopped here). Credentials, given or from the environment, are checked before anything
    is read: a remote target without them is exit 2."""
    if target != LOCAL:
        base_url = resolve_target(target)
        credentials = credentials or Credentials.from_environment()
        description = f"{target} ({base_url})" if target in TARGETS else base_url
        yield Target(base_url, credentials, description)
        return
    # Throwaway credentials for this run: the local sandbox accepts exactly these.
    user, key = f"local-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    with ExitStack() as stack:

        def start() -> str:
            from sandbox.process import SandboxProcess, SandboxStartFailure

            process = SandboxProcess(db=LOCAL_SANDBOX_DB, users={user: key})
            try:
                return stack.enter_context(process).url
            except SandboxStartFailure as exc:
                raise SandboxStartError(str(exc)) from None

        yield Target(
            None,
            Credentials(user_uid=user, api_key=key),
            f"local sandbox (embedded, data in {LOCAL_SANDBOX_DB})",
            start,
            f"local sandbox {Path(LOCAL_SANDBOX_DB).resolve()}",
        )
