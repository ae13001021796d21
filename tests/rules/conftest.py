"""Shared by the rule-format tests: Elastic's rule library in ../shared, read in place."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHARED

DETECTION_RULES = SHARED / "detection-rules"


@pytest.fixture(scope="session")
def detection_rules() -> Path:
    """../shared/detection-rules (``rules/`` and ``rules_building_block/``); skip when absent."""
    if not (DETECTION_RULES / "rules").is_dir():
        pytest.skip("../shared/detection-rules is not present")
    return DETECTION_RULES
