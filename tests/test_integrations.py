"""Other people's workflows: the real pre-commit running our hook, and the GitHub Action's definition."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
GOLDEN = REPOSITORY / "golden"


def _git(cwd: Path, *arguments: str) -> None:
    subprocess.run(["git", *arguments], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"})


def test_hook_definitions_match_the_cli():
    yaml = pytest.importorskip("yaml", reason="PyYAML comes with pre-commit (test extra)")
    hooks = {hook["id"]: hook for hook in yaml.safe_load((REPOSITORY / ".pre-commit-hooks.yaml").read_text())}
    assert hooks["poetry-docker-fix"]["entry"].startswith("poetry-docker-fix --apply")
    assert hooks["poetry-docker-fix-check"]["entry"] == "poetry-docker-fix --check"
    import re

    from poetry_docker_fix.refactor.runner import is_dockerfile_name

    for hook in hooks.values():  # the files pre-commit hands over are the ones a folder search finds
        files, exclude = re.compile(hook["files"]), re.compile(hook["exclude"])
        for name in ("Dockerfile", "docker/Dockerfile.dev", "api.Dockerfile", "Containerfile", "dockerfile",
                     "Dockerfile.dockerignore", "Dockerfile.md/x", "notes.txt", "dockerfile_utils.py", "x.dockerfile"):
            taken = bool(files.search(name)) and not exclude.search(name)
            assert taken == is_dockerfile_name(name.rsplit("/", 1)[-1]), (hook["id"], name)
    action = yaml.safe_load((REPOSITORY / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert "--check --format github" in action["runs"]["steps"][-1]["run"]


def test_real_pre_commit_runs_the_hook(tmp_path):
    pre_commit = Path(sys.executable).parent / "pre-commit"
    if not pre_commit.exists():
        pytest.skip("pre-commit is not installed (test extra)")
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    project = tmp_path / "project"
    shutil.copytree(GOLDEN / "article-7-cache-mount", project)
    expected = (project / "expected.Dockerfile").read_bytes()
    (project / "expected.Dockerfile").unlink()
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "naive")
    environment = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "PRE_COMMIT_COLOR": "never"}
    completed = subprocess.run(
        [str(pre_commit), "try-repo", str(REPOSITORY), "poetry-docker-fix", "--files", "Dockerfile"],
        cwd=project, capture_output=True, text=True, env=environment, timeout=900, check=False,
    )
    # A fixer hook that rewrites a file fails the commit so the author can review the change.
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "files were modified by this hook" in completed.stdout
    assert (project / "Dockerfile").read_bytes() == expected
    again = subprocess.run(
        [str(pre_commit), "try-repo", str(REPOSITORY), "poetry-docker-fix-check", "--files", "Dockerfile"],
        cwd=project, capture_output=True, text=True, env=environment, timeout=900, check=False,
    )
    assert again.returncode == 0, again.stdout + again.stderr


def test_the_actions_check_step_annotates_writes_the_job_summary_and_fails(tmp_path):
    # The composite action's last step, run by bash as GitHub would, with its inputs filled in.
    yaml = pytest.importorskip("yaml", reason="PyYAML comes with pre-commit (test extra)")
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    action = yaml.safe_load((REPOSITORY / "action.yml").read_text())
    script = action["runs"]["steps"][-1]["run"]
    script = script.replace("${{ inputs.args }}", "--skip cache-mount").replace("${{ inputs.paths }}", ".")
    project = tmp_path / "project"
    shutil.copytree(GOLDEN / "article-7-cache-mount", project)
    (project / "expected.Dockerfile").unlink()
    summary = tmp_path / "summary.md"
    environment = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary),
                   "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    completed = subprocess.run(["bash", "-c", script], cwd=project, capture_output=True, text=True,
                               env=environment, timeout=120, check=False)
    assert completed.returncode == 1, completed.stderr
    assert completed.stdout.startswith("::warning file=Dockerfile,line=1,")
    assert "cache-mount" not in completed.stdout  # the args input reached the tool
    text = summary.read_text()
    assert text.startswith("### poetry-docker-fix\n\n```diff\n--- a/Dockerfile\n+++ b/Dockerfile\n")
    assert text.rstrip().endswith("1 would be rewritten, 0 unchanged.\n```")
