"""requirements.lock is what `make install` installs: it must satisfy pyproject.toml and carry hashes."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PINNED = re.compile(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s;\\]+)")


def locked() -> dict[str, str]:
    versions: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        match = PINNED.match(line)
        if match:
            versions[canonicalize_name(match.group(1))] = match.group(2)
    return versions


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(spec) for spec in project["dependencies"] + project["optional-dependencies"]["dev"]]


def test_every_dependency_is_locked_at_a_version_its_range_admits() -> None:
    versions = locked()
    stale = [
        str(req)
        for req in declared()
        if canonicalize_name(req.name) not in versions
        or not req.specifier.contains(versions[canonicalize_name(req.name)])
    ]
    assert not stale, f"requirements.lock does not satisfy {stale}: run `make lock`"


def test_every_locked_file_has_a_hash() -> None:
    text = (ROOT / "requirements.lock").read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    unhashed = [entry.split()[0] for entry in entries if PINNED.match(entry) and "--hash=sha256:" not in entry]
    assert not unhashed


def test_libraries_whose_private_apis_we_use_are_pinned_exactly() -> None:
    pins = {canonicalize_name(req.name): str(req.specifier) for req in declared()}
    assert pins["exchangelib"].startswith("==")
    assert pins["strawberry-graphql"].startswith("==")
    assert pins["urllib3"].startswith("==")
