"""Shared fixtures. The GLUE data is not part of the repository: tests that need it skip."""

from __future__ import annotations

from pathlib import Path

import pytest

from algo.glue import GlueError, resolve_glue_dir


@pytest.fixture(scope="session")
def glue_dir() -> Path:
    """The GLUE directory ($SBF_GLUE_DIR or ../shared/data/glue); skips the test when absent."""
    try:
        return resolve_glue_dir()
    except GlueError as e:
        pytest.skip(f"GLUE data not available: {e}")
