"""Every mistake a user can make on the command line gets one clear message and exit code 2, never a traceback."""

import pytest

from listener.config import ConfigError, load_project, parse_duration


@pytest.mark.parametrize("args, names", [
    (["stats", "--interval", "7x"], ["--interval", "1h"]),
    (["stats", "--interval", "0m"], ["--interval"]),
    (["stats", "--tz", "Mars/Olympus_Mons"], ["--tz", "IANA"]),
    (["stats", "--tz", "../../etc/passwd"], ["--tz"]),
    (["search", "--cursor", "not-a-cursor"], ["--cursor", "start again"]),
    (["search", "--cursor", "WyJ4Il0"], ["--cursor"]),  # valid base64 JSON of the wrong shape
    (["search", "--since", "999999999999d"], ["--since"]),
    (["stats", "--since", "99999999d"], ["--since"]),
    (["search", "--until", "9999999999w"], ["--until"]),
])
def test_bad_options_are_one_clear_line(run, args, names):
    result = run(*args)
    assert result.exit_code == 2, result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: ")
    for name in names:
        assert name in result.stderr


def test_a_folder_as_project_is_named(run, tmp_path):
    result = run("check", "--project", str(tmp_path))
    assert result.exit_code == 2
    assert "folder" in result.stderr and str(tmp_path) in result.stderr


def test_a_folder_as_project_from_the_environment_too(run, tmp_path, monkeypatch):
    monkeypatch.setenv("LISTENER_PROJECT", str(tmp_path))
    result = run("check")
    assert result.exit_code == 2 and "folder" in result.stderr


def test_a_bom_at_the_start_of_the_project_file_is_accepted(tmp_path):
    path = tmp_path / "p.toml"
    path.write_bytes(b'\xef\xbb\xbf[[brand]]\nname = "Nimbus"\nquery = "nimbus"\n')
    assert load_project(path).brands[0].name == "Nimbus"


@pytest.mark.parametrize("cooldown", ["99999999999999w", "400d"])
def test_a_huge_cooldown_is_refused_with_its_field(run, tmp_path, cooldown):
    path = tmp_path / "p.toml"
    path.write_text(f'[[brand]]\nname = "A"\nquery = "a"\n[[alert]]\nname = "x"\ncooldown = "{cooldown}"\n')
    with pytest.raises(ConfigError, match=r"alert\[0\]\.cooldown"):
        load_project(path)
    result = run("check", "--project", str(path))
    assert result.exit_code == 2 and "cooldown" in result.stderr


def test_durations_up_to_a_year_still_work():
    assert parse_duration("365d").days == 365 and parse_duration("6h").seconds == 21600
