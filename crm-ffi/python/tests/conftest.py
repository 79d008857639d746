"""Fixtures: a fresh in-memory engine per test, the sample data files."""

import datetime as dt
from pathlib import Path
from typing import Iterator

import pytest

import crm_core

UTC = dt.timezone.utc

PIPELINE = [
    {"key": "lead", "name": "Lead", "probability": 10, "kind": "open"},
    {"key": "proposal", "name": "Proposal", "probability": 50, "kind": "open",
     "guards": ["requires_amount"]},
    {"key": "won", "name": "Won", "probability": 100, "kind": "won"},
    {"key": "lost", "name": "Lost", "probability": 0, "kind": "lost"},
]

#: The repository's root (the tests run from the source tree).
ROOT = Path(__file__).resolve().parents[3]
#: The sample files of the Rust examples.
DATA = ROOT / "examples" / "data"


def utc(*args: int) -> dt.datetime:
    """An aware UTC datetime."""
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture
def crm() -> Iterator[crm_core.Crm]:
    with crm_core.open(":memory:") as engine:
        yield engine


@pytest.fixture
def system(crm: crm_core.Crm) -> crm_core.Session:
    return crm.as_system()
