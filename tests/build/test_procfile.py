"""The Procfile and bin/release's YAML: what becomes a slug's process types."""

import pytest

from pyroku.build import CompileFailed, ProcfileError, merge_process_types, parse_procfile, parse_release


def test_types_commands_comments_and_blank_lines() -> None:
    text = "# processes\nweb: gunicorn app:app --bind 0.0.0.0:$PORT\n\nworker:python worker.py  \nrelease: ./migrate\n"
    assert parse_procfile(text) == {
        "web": "gunicorn app:app --bind 0.0.0.0:$PORT",
        "worker": "python worker.py",
        "release": "./migrate",  # kept: the release phase runs it
    }


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("web: ok\nthis line has no colon\n", 2, "is not 'type: command'"),
    ("web: ok\n\nweb.1: nope\n", 3, "invalid process type 'web.1'"),
    ("my worker: x\n", 1, "invalid process type 'my worker'"),
    ("web:\n", 1, "has no command"),
    ("web: a\nweb: b\n", 2, "declared twice"),
])
def test_a_malformed_procfile_names_the_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(ProcfileError) as error:
        parse_procfile(text)
    assert f"line {line}" in str(error.value) and reason in str(error.value)


def test_release_yaml_default_process_types() -> None:
    assert parse_release("") == {}
    assert parse_release("--- {}\n") == {}
    assert parse_release("---\naddons: []\ndefault_process_types:\n  web: npm start\n") == {"web": "npm start"}
    with pytest.raises(CompileFailed):
        parse_release("- not\n- a mapping\n")
    with pytest.raises(CompileFailed):
        parse_release("default_process_types: [web]\n")
    with pytest.raises(CompileFailed):
        parse_release("default_process_types: {'bad type': x}\n")


def test_the_procfile_wins_over_buildpack_defaults() -> None:
    assert merge_process_types({"web": "mine"}, {"web": "npm start", "worker": "node w.js"}) == {
        "web": "mine", "worker": "node w.js"}
