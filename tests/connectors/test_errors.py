"""The exception tree: each error's exit code, as the interface spec promises."""

from __future__ import annotations

import connectors.errors as errors


def test_exit_codes_follow_the_tree() -> None:
    nothing_sent = (errors.InputError, errors.MappingError, errors.SourceError,
                    errors.CredentialsError, errors.RunLockedError)  # fmt: skip
    stopped = (errors.RunError, errors.SandboxStartError, errors.ApiStopError, errors.AuthError,
               errors.TargetError)  # fmt: skip
    assert all(e("x").exit_code == 2 for e in nothing_sent)
    assert all(e("x").exit_code == 1 for e in stopped)
    assert issubclass(errors.AuthError, errors.ApiStopError)
    assert issubclass(errors.TargetError, errors.ApiStopError)


def test_every_error_is_drawn_in_the_tree() -> None:
    drawn = errors.__doc__ or ""
    for name, value in vars(errors).items():
        if isinstance(value, type) and issubclass(value, errors.CustsyncError):
            assert name in drawn, name
