"""Fixtures: a fresh in-memory engine per test, and a probe for operations
the installed library may not have yet."""

from typing import Iterator

import pytest

import crm_core

PIPELINE = [
    {"key": "lead", "name": "Lead", "probability": 10, "kind": "open"},
    {"key": "proposal", "name": "Proposal", "probability": 50, "kind": "open",
     "guards": ["requires_amount"]},
    {"key": "won", "name": "Won", "probability": 100, "kind": "won"},
    {"key": "lost", "name": "Lost", "probability": 0, "kind": "lost"},
]


@pytest.fixture
def crm() -> Iterator[crm_core.Crm]:
    with crm_core.open(":memory:") as engine:
        yield engine


@pytest.fixture
def system(crm: crm_core.Crm) -> crm_core.Session:
    return crm.as_system()


def has_op(op: str) -> bool:
    """Whether the installed library knows `op` (probed on a throwaway engine)."""
    with crm_core.open(":memory:") as probe:
        try:
            probe.call(op, {})
        except crm_core.UnknownOperationError:
            return False
        except crm_core.CrmError:
            return True
    return True


def needs(*ops: str):
    """Skips a test until the library has every one of `ops`."""
    missing = [op for op in ops if not has_op(op)]
    return pytest.mark.skipif(bool(missing), reason=f"library lacks {', '.join(missing)}")
