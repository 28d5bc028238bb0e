"""`--verify` as the command line wires it: a passing rewrite is written, a failing one is not."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import use_docker
from tests.golden_support import GOLDEN, run_cli


@pytest.fixture
def article(tmp_path: Path) -> Path:
    copy = tmp_path / "article"
    shutil.copytree(GOLDEN / "article-7-cache-mount", copy)
    (copy / "expected.Dockerfile").unlink()
    return copy


def test_verify_without_docker_is_an_input_error(article):
    before = (article / "Dockerfile").read_bytes()
    code, _, err = run_cli(["--verify", "--apply", "--docker", str(article / "no-such-docker"),
                            str(article / "Dockerfile")])
    assert code == 2 and "--verify" in err.decode()
    assert (article / "Dockerfile").read_bytes() == before


def test_verify_with_a_program_that_is_not_docker_says_so(article):
    code, _, err = run_cli(["--verify", "--docker", "true", str(article / "Dockerfile")])
    assert code == 2 and "does not look like a Docker client" in err.decode() and "failed (exit 0)" not in err.decode()


def test_verify_options_need_verify(article):
    code, _, err = run_cli(["--verify-command", "python -V", str(article / "Dockerfile")])
    assert code == 2 and "go with --verify" in err.decode()


@pytest.mark.docker
def test_verify_passes_and_apply_writes(article, docker_engine, docker):
    use_docker(docker_engine)
    code, out, err = run_cli(["--verify", "--apply", "--docker", docker, str(article / "Dockerfile")])
    assert code == 0, err.decode()[-3000:]
    assert "PASS" in out.decode() and "reused" in out.decode()
    assert (article / "Dockerfile").read_bytes() == (GOLDEN / "article-7-cache-mount" / "expected.Dockerfile").read_bytes()


@pytest.mark.docker
def test_failing_rewrite_is_reported_and_not_written(article, docker_engine, docker):
    use_docker(docker_engine)
    before = (article / "Dockerfile").read_bytes()
    # A runtime image that does not exist locally: the rewrite cannot build.
    code, out, err = run_cli(["--verify", "--apply", "--docker", docker, "--runtime-image",
                              "pdf-no-such-image:never", str(article / "Dockerfile")])
    assert code == 1, err.decode()[-3000:]
    assert "FAIL" in out.decode() and "not written" in err.decode()
    assert (article / "Dockerfile").read_bytes() == before
