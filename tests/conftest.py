"""Fixtures shared by the tests that need a Docker engine (end-to-end, --verify)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from poetry_docker_fix import docker_engine as engine


@dataclass(frozen=True)
class DockerEngine:
    binary: str
    available: bool
    reason: str


@pytest.fixture(scope="session")
def docker_engine() -> DockerEngine:
    """Whether a Docker engine answers, asked once per test session."""
    binary = engine.docker_binary()
    available, reason = engine.docker_available(binary)
    return DockerEngine(binary, available, reason)


@pytest.fixture
def docker(docker_engine: DockerEngine) -> str:
    """The Docker client binary, once an engine has answered.

    Without one the test is skipped, or fails when POETRY_DOCKER_FIX_REQUIRE_DOCKER=1 (as in CI). The failure is
    raised from the test itself (see ``use_docker``), so that it counts as FAILED, not ERROR.
    """
    if not docker_engine.available and not engine.docker_required():
        pytest.skip(engine.unavailable_message(docker_engine.reason))
    return docker_engine.binary


def use_docker(docker_engine: DockerEngine) -> None:
    """First statement of a Docker test: fail when Docker is required but unreachable."""
    if not docker_engine.available:
        pytest.fail(
            f"Docker is required ({engine.REQUIRE_DOCKER_ENV}=1) but no daemon is reachable: {docker_engine.reason}",
            pytrace=False,
        )
