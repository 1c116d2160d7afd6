"""The file of servers: YAML or JSON of `webservers:` and a list; anything else is named in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthmon.entrypoints.client.servers_file import InvalidServersFile, read_servers_file


def test_yaml_and_json_files_give_the_same_entries(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "webservers:\n  - name: a\n    url: https://a.test/\n    verify_tls: false\n"
    )
    (tmp_path / "s.json").write_text(
        '{"webservers": [{"name": "a", "url": "https://a.test/", "verify_tls": false}]}'
    )

    assert read_servers_file(str(tmp_path / "s.yaml")) == read_servers_file(str(tmp_path / "s.json"))


def test_yaml_tags_that_build_objects_are_refused(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("webservers: !!python/object/apply:os.getcwd []\n")

    with pytest.raises(InvalidServersFile, match="is not valid YAML"):
        read_servers_file(str(tmp_path / "s.yaml"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("webservers: [\n", "is not valid YAML: while parsing"),
        ("- name: a\n", "must be a mapping with `webservers:` and a list of entries"),
        ("webservers: {name: a}\n", "must be a mapping with `webservers:` and a list of entries"),
        ("webservers: []\nprune: true\n", "has unknown top-level fields: prune"),
    ],
)
def test_a_file_of_another_shape_is_named_in_one_line(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "s.yaml").write_text(content)

    with pytest.raises(InvalidServersFile) as raised:
        read_servers_file(str(tmp_path / "s.yaml"))
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidServersFile, match=r"cannot read .*missing\.yaml: No such file or directory"):
        read_servers_file(str(tmp_path / "missing.yaml"))
