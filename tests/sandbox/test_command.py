"""The sandbox's command line, generated from its settings: every knob a flag, both ways."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields

from hypothesis import given
from hypothesis import strategies as st

from sandbox.command import knob_arguments, parser, settings_from
from sandbox.faults import RETRY_AFTER_FORMS, FaultSettings

rates = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
settings = st.builds(
    FaultSettings,
    rate_limit=st.none() | st.floats(min_value=0.5, max_value=10_000, allow_nan=False),
    burst=st.none() | st.integers(min_value=1, max_value=10_000),
    retry_after=st.sampled_from(RETRY_AFTER_FORMS),
    latency_ms=st.floats(min_value=0, max_value=5_000, allow_nan=False),
    error_rate=rates,
    reset_rate=rates,
    lost_response_rate=rates,
    max_page_size=st.none() | st.integers(min_value=1, max_value=1_000),
    max_url_length=st.none() | st.integers(min_value=64, max_value=100_000),
    empty_search_404=st.booleans(),
    echo_rejected_values=st.booleans(),
    lowercase_emails=st.booleans(),
)


@given(settings)
def test_the_command_line_of_any_settings_parses_back_to_them(knobs: FaultSettings) -> None:
    assert settings_from(parser().parse_args(knob_arguments(knobs))) == knobs


def test_every_knob_is_a_flag_with_help() -> None:
    actions = {a.dest: a for a in parser()._actions}
    for knob in fields(FaultSettings):
        assert knob.name in actions, knob.name
        assert actions[knob.name].help, knob.name


def test_defaults_need_no_flags() -> None:
    assert knob_arguments(FaultSettings()) == []
    assert settings_from(parser().parse_args([])) == FaultSettings()


def test_help_of_both_entry_points_lists_the_knobs() -> None:
    for command in (["-m", "sandbox", "--help"], ["-m", "flows", "sandbox", "--help"]):
        shown = subprocess.run([sys.executable, *command], capture_output=True, text=True,
                               timeout=60)  # fmt: skip
        assert shown.returncode == 0, shown.stderr
        assert "--retry-after {seconds,date,none}" in shown.stdout
        assert "--lost-response-rate" in shown.stdout and "--max-url-length" in shown.stdout


def test_an_unknown_flag_is_exit_2() -> None:
    shown = subprocess.run([sys.executable, "-m", "flows", "sandbox", "--burts", "3"],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert shown.returncode == 2 and "--burts" in shown.stderr
