import os
import subprocess
import sys
from pathlib import Path

import pytest

from listener.config import ConfigError, Settings, load_project, parse_duration

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "project.toml"


def write(tmp_path, text):
    path = tmp_path / "project.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_project_loads():
    project = load_project(EXAMPLE)
    names = [b.name for b in project.brands]
    assert names[0] == "Nimbus" and "Kestrel Pay" in names
    assert project.brands[0].sources.subreddits == ["nimbuswallet", "fintech"]
    assert {t.label for t in project.topics} == {"card_delivery"}
    assert project.alert[0].metric == "negative"


def test_unknown_field_names_file_path_and_fix(tmp_path):
    path = write(tmp_path, '[[brand]]\nname = "A"\nquery = "a"\n[brand.sources]\nsubredits = ["x"]\n')
    with pytest.raises(ConfigError) as err:
        load_project(path)
    message = str(err.value)
    assert str(path) in message
    assert "brand[0].sources.subredits" in message
    assert "unknown field" in message


def test_bad_query_names_field_and_position(tmp_path):
    path = write(tmp_path, '[[brand]]\nname = "A"\nquery = "(nimbus OR"\n')
    with pytest.raises(ConfigError) as err:
        load_project(path)
    assert "brand[0].query" in str(err.value)
    assert "position" in str(err.value)


def test_missing_required_and_wrong_type(tmp_path):
    path = write(tmp_path, '[[brand]]\nname = "A"\n[[alert]]\nname = "x"\nsensitivity = "high"\n')
    message = str(pytest.raises(ConfigError, load_project, path).value)
    assert "brand[0].query: required field is missing" in message
    assert "alert[0].sensitivity" in message


def test_cross_references_and_values_are_checked(tmp_path):
    path = write(tmp_path, '[[brand]]\nname = "A"\nquery = "a"\n[[serp]]\nquestion = "a help"\nbrand = "B"\n'
                           '[project]\ntimezone = "Mars/Base"\n')
    message = str(pytest.raises(ConfigError, load_project, path).value)
    assert "Mars/Base" in message
    path = write(tmp_path, '[[brand]]\nname = "A"\nquery = "a"\n[[serp]]\nquestion = "a help"\nbrand = "B"\n')
    assert "brand 'B', which is not defined" in str(pytest.raises(ConfigError, load_project, path).value)


def test_toml_syntax_error_and_missing_file(tmp_path):
    path = write(tmp_path, '[[brand]\nname = "A"\n')
    assert "not valid TOML" in str(pytest.raises(ConfigError, load_project, path).value)
    assert "not found" in str(pytest.raises(ConfigError, load_project, tmp_path / "nope.toml").value)


def test_durations():
    assert parse_duration("10m").total_seconds() == 600
    assert parse_duration("2w").days == 14
    with pytest.raises(ValueError):
        parse_duration("ten minutes")


def test_settings_from_env(tmp_path):
    s = Settings.from_env({"LISTENER_DATA": str(tmp_path), "LISTENER_REDDIT_URL": "http://127.0.0.1:9"})
    assert s.data_dir == tmp_path
    assert s.store_url == f"sqlite:///{tmp_path / 'listener.db'}"
    assert s.reddit_url == "http://127.0.0.1:9"


def test_cli_check_bad_file_exits_2_without_traceback(tmp_path):
    path = write(tmp_path, '[[brand]]\nname = "A"\nquery = "a AND"\n')
    env = {**os.environ, "LISTENER_DATA": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "listener.cli", "check", "--project", str(path)],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "brand[0].query" in result.stderr and str(path) in result.stderr
    ok = subprocess.run([sys.executable, "-m", "listener.cli", "check", "--project", str(EXAMPLE)],
                        capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    assert "3 brand(s)" in ok.stdout


def _fields(model, seen=None):
    """Every field name of a pydantic model and the models nested in it."""
    import typing

    from pydantic import BaseModel

    seen = seen if seen is not None else set()
    for name, info in model.model_fields.items():
        yield name
        for arg in [info.annotation, *typing.get_args(info.annotation)]:
            for inner in [arg, *typing.get_args(arg)]:
                if isinstance(inner, type) and issubclass(inner, BaseModel) and inner not in seen:
                    seen.add(inner)
                    yield from _fields(inner, seen)


def test_every_project_field_is_documented():
    from listener.config import Project

    doc = (ROOT / "docs" / "project-file.md").read_text(encoding="utf-8")
    missing = sorted({name for name in _fields(Project) if f"`{name}`" not in doc and f"[[{name}]]" not in doc
                      and f"[{name}]" not in doc})
    assert missing == []
