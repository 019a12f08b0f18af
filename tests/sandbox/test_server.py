"""``custsync sandbox`` as users run it: banner, Ctrl-C, bad flags."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx

from sandbox.process import BANNER_URL


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "flows", "sandbox", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_banner_is_one_line_and_ctrl_c_stops_cleanly(tmp_path) -> None:
    process = start("--db", str(tmp_path / "s.db"), "--user", "uid:secret-key")
    assert process.stdout is not None
    banner = process.stdout.readline()
    match = BANNER_URL.search(banner)
    assert match, banner
    assert "secret-key" not in banner  # the credential source is named, never the key
    assert "--user" in banner
    response = httpx.get(match.group(1) + "/v2/customer?search=id!=x", auth=("uid", "secret-key"))
    assert response.status_code == 200
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=15)
    assert process.returncode == 0
    assert "Traceback" not in err
    assert out == ""  # nothing after the banner


def test_bad_flag_value_is_one_line_exit_2() -> None:
    process = start("--error-rate", "1.5")
    _out, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert err.strip().splitlines() == ["custsync: error: error-rate must be between 0 and 1"]


def test_bad_user_pair_is_exit_2() -> None:
    process = start("--user", "no-colon")
    _, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "UID:KEY" in err
