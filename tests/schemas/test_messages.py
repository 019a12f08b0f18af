from __future__ import annotations

from schemas.messages import named


def test_a_setting_reads_as_its_field_or_as_the_flag_the_cli_names_it_by() -> None:
    message = "pass {max_deletes}, or {new_target}; not {1} nor {Upper} nor {}"
    assert named(message) == "pass max_deletes, or new_target; not {1} nor {Upper} nor {}"
    flags = named(message, lambda f: "--" + f.replace("_", "-"))
    assert flags == "pass --max-deletes, or --new-target; not {1} nor {Upper} nor {}"
