from __future__ import annotations

from pathlib import Path

from graphql import build_schema as build_sdl
from graphql.utilities import find_breaking_changes

from schema import build_schema

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT.parent / "shared" / "contract" / "schema.graphql"


def test_committed_schema_equals_the_live_schema() -> None:
    live = build_schema().as_str() + "\n"
    assert (ROOT / "schema.graphql").read_text() == live, "run `make schema` and commit schema.graphql"


def test_live_schema_keeps_every_contract_name() -> None:
    if not CONTRACT.exists():  # the contract lives beside the repository, in shared/
        return
    contract = build_sdl(CONTRACT.read_text())
    live = build_sdl(build_schema().as_str())
    assert find_breaking_changes(contract, live) == []
