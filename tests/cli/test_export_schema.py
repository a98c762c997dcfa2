"""`meetgraph export-schema --possible-types FILE`: what `make schema` runs to write the committed files."""

from __future__ import annotations

from pathlib import Path

import pytest

from meetgraph.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_export_schema_writes_the_committed_possible_types(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # when
    assert main(["export-schema", "--possible-types", str(tmp_path / "possibleTypes.json")]) == 0
    # then: the SDL still goes to stdout, the map to the file, both as committed
    assert capsys.readouterr().out == (ROOT / "schema.graphql").read_text()
    assert (tmp_path / "possibleTypes.json").read_text() == (ROOT / "possibleTypes.json").read_text()
