"""One private stack for every hostile-input test: fuzzing and floods must not slow or
pollute the session stack other tests share, and they may list its buckets whole."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.conftest import FaultStack, running_stack


@pytest.fixture(scope="package")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    with running_stack(tmp_path_factory.mktemp("hostile")) as fs:
        yield fs
