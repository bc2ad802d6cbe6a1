"""The fault suite: real `temanjiwa run` processes against the fakes on 127.0.0.1, killed
with SIGKILL at chosen moments, fed broken and hostile input, logging at DEBUG. Each test
prints its figures (inputs tried, failures, residents answered) with `-s`."""

from __future__ import annotations

import sys

import pytest

from tests.fakes import FakeTelegram

if sys.platform == "win32":
    pytest.skip("SIGKILL and POSIX processes", allow_module_level=True)


@pytest.fixture
async def tg():
    async with FakeTelegram() as fake:
        yield fake
