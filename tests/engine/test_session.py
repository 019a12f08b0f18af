"""One API client for a whole run: opened on first use, shared, closed once."""

from __future__ import annotations

from connectors.api.targets import Credentials
from engine.session import ApiSession
from engine.target import Target
from sandbox.process import SandboxProcess
from tests.helpers import KEY, USER


def test_one_client_serves_every_batch(sandbox_server: SandboxProcess) -> None:
    target = Target(sandbox_server.url, Credentials(user_uid=USER, api_key=KEY), "test")
    with ApiSession(target, rate_limit=None, concurrency=None) as session:

        async def two() -> tuple[object, object]:
            return session.api(), session.api()

        first, second = session.loop.run(two())
        assert first is second and session.concurrency == 64

        async def get() -> object:
            return await session.api().search('id=="nobody"')

        assert session.loop.run(get()).answer.value == "done"  # type: ignore[attr-defined]
        assert session.api().counters.requests == 1


def test_a_session_that_never_sent_never_starts_the_sandbox() -> None:
    started: list[str] = []
    target = Target(None, Credentials(user_uid="u", api_key="k"), "local", lambda: started.pop())
    with ApiSession(target, rate_limit=5, concurrency=None) as session:
        assert session.concurrency == 6
    assert started == []
