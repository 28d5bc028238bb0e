"""Many files at once: discovery, contexts, parallel runs, reports, configuration and pragmas."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from poetry_docker_fix.refactor.facts import Options
from poetry_docker_fix.refactor.runner import Request, discover_context, find_dockerfiles, process_many
from tests.golden_support import GOLDEN, run_cli
from tests.helpers import CLASSIC, fix, make_project, notes

NAIVE = ("FROM python:3.11\nRUN pip install poetry\nWORKDIR /app\nCOPY . .\nRUN poetry install\n"
         'CMD ["poetry", "run", "python", "-m", "app.main"]\n')


@pytest.fixture
def repos(tmp_path: Path) -> Path:
    """A folder of repositories: rewritable, not Poetry, already tuned, a heredoc, and one in docker/."""
    root = tmp_path / "repos"
    for name, case in (("alpha", "article-7-cache-mount"), ("beta", "not-poetry"), ("gamma", "already-tuned")):
        shutil.copytree(GOLDEN / case, root / name)
        (root / name / "expected.Dockerfile").unlink(missing_ok=True)
    make_project(root / "delta")
    (root / "delta" / "Dockerfile.dev").write_text("FROM python:3.11\nRUN <<EOF\npoetry install\nEOF\n")
    make_project(root / "epsilon")
    (root / "epsilon" / "docker").mkdir()
    (root / "epsilon" / "docker" / "Dockerfile").write_text(NAIVE)
    (root / "epsilon" / ".dockerignore").write_text(".venv\n")
    (root / "epsilon" / ".venv").mkdir()
    (root / "epsilon" / ".venv" / "pyvenv.cfg").write_text("home = /usr\n")
    (root / "epsilon" / ".venv" / "Dockerfile").write_text(NAIVE)
    # A virtualenv under a name no skip list knows: pyvenv.cfg gives it away, at any depth below it.
    (root / "tools-py311" / "lib" / "site-packages" / "pkg").mkdir(parents=True)
    (root / "tools-py311" / "pyvenv.cfg").write_text("home = /usr\n")
    (root / "tools-py311" / "Dockerfile").write_text(NAIVE)
    (root / "tools-py311" / "lib" / "site-packages" / "pkg" / "Dockerfile").write_text(NAIVE)
    return root


def test_discovery_skips_virtualenvs_and_honours_exclude(repos):
    found = [p.relative_to(repos).as_posix() for p in find_dockerfiles(repos)]
    assert found == ["alpha/Dockerfile", "beta/Dockerfile", "delta/Dockerfile.dev", "epsilon/docker/Dockerfile",
                     "gamma/Dockerfile"]
    assert "delta/Dockerfile.dev" not in [p.relative_to(repos).as_posix()
                                          for p in find_dockerfiles(repos, ["delta"])]


def test_discovery_names_docker_accepts_and_not_its_ignore_files(tmp_path):
    for name in ("dockerfile", "Dockerfile.dockerignore", "api.Dockerfile", "Containerfile", "notes.txt"):
        (tmp_path / name).write_text(NAIVE)
    assert [p.name for p in find_dockerfiles(tmp_path)] == ["Containerfile", "api.Dockerfile", "dockerfile"]


@pytest.mark.parametrize("pattern", ["delta", "delta/", "./delta", "./delta/"])
def test_exclude_means_the_folder_however_it_is_spelled(repos, pattern):
    assert "delta/Dockerfile.dev" not in [p.relative_to(repos).as_posix() for p in find_dockerfiles(repos, [pattern])]


def test_a_symlinked_dockerfile_is_processed_once_under_its_own_name(tmp_path):
    make_project(tmp_path)
    (tmp_path / "Dockerfile.prod").write_text(NAIVE)
    (tmp_path / "Dockerfile").symlink_to("Dockerfile.prod")
    assert [p.name for p in find_dockerfiles(tmp_path)] == ["Dockerfile.prod"]
    code, out, err = run_cli(["--apply", str(tmp_path)])
    assert code == 0 and "1 rewritten, 0 unchanged." in err.decode(), err
    assert (tmp_path / "Dockerfile").is_symlink()


def test_a_symlinked_folder_named_on_the_command_line_is_searched(repos, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(repos)
    _, direct, _ = run_cli(["--check", "-q", str(repos)])
    for spelling in (str(link), str(link) + "/"):
        code, out, err = run_cli(["--check", "-q", spelling])
        assert code == 1 and out.count(b"+++ b/") == direct.count(b"+++ b/") == 2, err


def test_one_file_named_twice_is_processed_once(tmp_path, monkeypatch):
    make_project(tmp_path)
    (tmp_path / "Dockerfile").write_text(NAIVE)
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(["--check", "Dockerfile", "./Dockerfile", str(tmp_path / "Dockerfile")])
    assert code == 1 and out.count(b"+++ b/") == 1 and "1 would be rewritten" in err.decode()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_file_reached_through_a_symlinked_folder_too_is_processed_once(tmp_path, jobs):
    make_project(tmp_path / "real" / "p")
    (tmp_path / "real" / "p" / "Dockerfile").write_text(NAIVE)
    for index in range(8):  # enough files for the pool
        make_project(tmp_path / "real" / f"q{index}")
        (tmp_path / "real" / f"q{index}" / "Dockerfile").write_text(NAIVE)
    (tmp_path / "linkdir").symlink_to(tmp_path / "real")
    code, out, err = run_cli(["--apply", "--jobs", jobs, str(tmp_path / "real"), str(tmp_path / "linkdir")])
    assert code == 0 and "9 rewritten" in err.decode(), err.decode()
    # A symlinked Dockerfile keeps its own name (it is not written through), beside the file it points to.
    (tmp_path / "real" / "p" / "Dockerfile").write_text(NAIVE)
    (tmp_path / "real" / "p" / "Dockerfile.link").symlink_to(tmp_path / "real" / "p" / "Dockerfile")
    code, out, err = run_cli(["--apply", str(tmp_path / "real" / "p" / "Dockerfile.link"),
                              str(tmp_path / "real" / "p" / "Dockerfile")])
    assert "Dockerfile.link: not written: is a symlink" in err.decode()
    assert "AS runtime" in (tmp_path / "real" / "p" / "Dockerfile").read_text()


def test_a_dangling_symlinked_dockerfile_says_what_it_points_to(repos):
    (repos / "alpha" / "api.Dockerfile").symlink_to(repos / "alpha" / "gone.Dockerfile")
    code, _, err = run_cli(["--check", str(repos)])
    assert code == 2
    assert f"{repos / 'alpha' / 'api.Dockerfile'}: a symlink to {repos / 'alpha' / 'gone.Dockerfile'}, which does " \
        "not exist" in err.decode()


def test_the_summary_keeps_input_errors_apart_from_internal_errors(repos):
    (repos / "beta" / "Dockerfile").write_bytes(b"\x00\x01binary")
    code, _, err = run_cli(["--check", str(repos)])
    assert code == 2 and "1 not processed (input error, see above)." in err.decode()
    assert "failed" not in err.decode().splitlines()[-1]


def test_context_of_a_dockerfile_in_a_subfolder_is_the_project_root(repos):
    assert discover_context(repos / "epsilon" / "docker" / "Dockerfile") == (repos / "epsilon").resolve()
    assert discover_context(repos / "alpha" / "Dockerfile") == repos / "alpha"


def test_parallel_and_serial_runs_agree_in_order_and_content(repos):
    for copy in ("repos-2", "repos-3"):  # enough files for the process pool
        shutil.copytree(repos, repos.parent / copy, symlinks=True)
    files = find_dockerfiles(repos.parent)
    assert len(files) >= 12
    shuffled = files[::-1] + files[:3]  # in any order, repeated: each file once, sorted by path
    serial = process_many(shuffled, Request(), jobs=1)
    parallel = process_many(shuffled, Request(), jobs=2)
    assert [r.path for r in parallel] == [r.path for r in serial] == files
    assert [(r.status, r.refactoring.output) for r in parallel] == [(r.status, r.refactoring.output) for r in serial]
    assert [r.unified_diff() for r in parallel] == [r.unified_diff() for r in serial]


def test_a_folder_streams_into_the_workers_while_it_is_walked(repos):
    from poetry_docker_fix.refactor.runner import Workers, iter_dockerfiles

    with Workers(2, start_now=True) as workers:
        reports = workers.map(iter_dockerfiles(repos), Request())
    assert [r.path for r in reports] == find_dockerfiles(repos)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_progress_bar_when_asked(repos, jobs):
    code, _, err = run_cli(["--check", "--progress", "--jobs", jobs, str(repos)])
    assert code == 1
    progress = err.decode().split("\r")
    assert progress[-1].startswith("[" + "#" * 30 + "] 5/5 files\n")  # ends full, on its own line
    assert all(part.startswith("[") for part in progress[1:])


def test_no_progress_in_a_pipe_unless_asked(repos):
    _, _, err = run_cli(["--check", str(repos)])  # CliRunner's stderr is not a terminal
    assert "\r" not in err.decode() and "[#" not in err.decode()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_bug_on_one_file_fails_that_file_and_the_run_goes_on(repos, monkeypatch, jobs):
    from poetry_docker_fix.transforms.no_dev import NoDev

    original = NoDev.run

    def broken(self, document, context):
        if "epsilon" in str(context.project.root):
            raise ZeroDivisionError("boom")
        return original(self, document, context)

    monkeypatch.setattr(NoDev, "run", broken)  # the pool's workers are forked after this
    before = (repos / "epsilon" / "docker" / "Dockerfile").read_bytes()
    code, out, err = run_cli(["--apply", "--jobs", jobs, str(repos)])
    assert code == 3  # the internal-error exit code, not a crash
    message = err.decode()
    assert "epsilon/docker/Dockerfile: failed: internal error: ZeroDivisionError: boom" in message
    assert "a bug in poetry-docker-fix; please report it" in message
    assert (repos / "epsilon" / "docker" / "Dockerfile").read_bytes() == before  # untouched
    assert "AS runtime" in (repos / "alpha" / "Dockerfile").read_text()  # the other files were rewritten
    assert "1 failed" in message


def test_a_worker_that_dies_loses_no_file(repos, monkeypatch):
    import os

    from poetry_docker_fix.refactor import runner

    parent = os.getpid()
    original = runner.process

    def dies_in_a_worker(path, request):
        if os.getpid() != parent and "alpha" in str(path):
            os._exit(9)  # as if killed, out of memory, or crashed in native code
        return original(path, request)

    monkeypatch.setattr(runner, "process", dies_in_a_worker)
    expected = [(r.path, r.status, r.refactoring.output) for r in runner.process_many(
        runner.find_dockerfiles(repos), runner.Request(), jobs=1)]
    warnings: list[str] = []
    with runner.Workers(2, start_now=True, warn=warnings.append) as workers:
        reports = workers.map(runner.iter_dockerfiles(repos), runner.Request())
    assert [(r.path, r.status, r.refactoring.output) for r in reports] == expected
    assert warnings == ["a worker process died; its files and the rest are processed in the main process"]


def test_a_bug_is_located_in_the_tool(tmp_path, monkeypatch):
    from poetry_docker_fix.refactor import facts
    from poetry_docker_fix.refactor.facts import Context, Options
    from poetry_docker_fix.refactor.pipeline import Status, refactor, select_passes
    from poetry_docker_fix.refactor.project import load_project

    make_project(tmp_path)
    monkeypatch.setattr(facts, "truthy", lambda value: [][0])  # an IndexError inside the tool's code
    result = refactor(NAIVE, Context(load_project(tmp_path), Options()), select_passes())
    assert result.status is Status.FAILED and result.output == NAIVE
    assert result.reason.startswith("internal error: IndexError: list index out of range at poetry_docker_fix/")


def test_summary_counts_and_groups_skip_reasons(repos):
    code, out, err = run_cli(["--check", "--jobs", "1", str(repos)])
    assert code == 1
    assert "2 would be rewritten, 2 unchanged, 1 skipped (1 × heredoc (not edited by this tool))." in err.decode()
    assert b"+FROM python:3.11-slim AS runtime" in out  # epsilon/docker/Dockerfile, read with epsilon's project


def test_json_report(repos):
    code, out, _ = run_cli(["--format", "json", "--check", str(repos)])
    report = json.loads(out)
    by_path = {Path(entry["path"]).parent.name + "/" + Path(entry["path"]).name: entry for entry in report["files"]}
    alpha = by_path["alpha/Dockerfile"]
    assert alpha["status"] == "changed" and alpha["passes_applied"][0] == "pin-poetry"
    assert alpha["changes"][0] == {"pass": "pin-poetry", "line": 3, "summary": "pin Poetry to 1.4.2",
                                   "reason": alpha["changes"][0]["reason"], "safe": True}
    assert alpha["diff"].startswith("--- a/")
    assert by_path["beta/Dockerfile"]["reason"].startswith("not a Poetry build")
    assert report["summary"] == {"changed": 2, "unchanged": 2, "skipped": 1, "error": 0, "failed": 0}


def test_reports_keep_input_errors_apart_from_internal_errors(repos, monkeypatch):
    """An input error (exit 2: fix the file) and an internal error (exit 3: report a bug) ask for different
    things: JSON and SARIF tell them apart, as the text summary does."""
    from poetry_docker_fix.transforms.no_dev import NoDev

    original = NoDev.run

    def broken(self, document, context):
        if "epsilon" in str(context.project.root):
            raise ZeroDivisionError("boom")
        return original(self, document, context)

    monkeypatch.setattr(NoDev, "run", broken)
    (repos / "gamma" / "pyproject.toml").write_text("this is [ not toml\n")
    code, out, _ = run_cli(["--format", "json", "--check", "--jobs", "1", str(repos)])
    report = json.loads(out)
    statuses = {Path(entry["path"]).parent.name: entry["status"] for entry in report["files"]}
    assert code == 3 and statuses["gamma"] == "error" and statuses["docker"] == "failed"
    assert report["summary"] == {"changed": 1, "unchanged": 1, "skipped": 1, "error": 1, "failed": 1}
    code, out, _ = run_cli(["--format", "sarif", "--check", "--jobs", "1", str(repos)])
    rules = {result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].split("/")[-2]: result["ruleId"]
             for result in json.loads(out)["runs"][0]["results"] if result["level"] == "error"}
    assert rules == {"gamma": "input-error", "docker": "internal-error"}


def test_github_annotations(repos):
    code, out, _ = run_cli(["--format", "github", "--check", str(repos / "alpha")])
    lines = out.decode().splitlines()
    # One annotation per changed line, naming every pass that changes it (GitHub shows 10 per step).
    assert code == 1 and [line.split(",title=")[0].rsplit(",", 1)[1] for line in lines] == [
        "line=1", "line=3", "line=5", "line=7"]
    assert lines[0].startswith("::warning file=") and ",title=poetry-docker-fix multi-stage::" in lines[0]
    assert ",line=3,title=poetry-docker-fix pin-poetry + poetry-env::pin-poetry: pin Poetry to 1.4.2: " in lines[1]
    assert "%0Apoetry-env: set POETRY_VIRTUALENVS_IN_PROJECT" in lines[1]
    assert "title=poetry-docker-fix no-dev + split-install + cache-mount::" in lines[3]


def test_sarif_report(repos):
    code, out, _ = run_cli(["--format", "sarif", "--check", str(repos / "alpha")])
    sarif = json.loads(out)
    run = sarif["runs"][0]
    assert sarif["version"] == "2.1.0" and run["tool"]["driver"]["name"] == "poetry-docker-fix"
    assert {rule["id"] for rule in run["tool"]["driver"]["rules"]} >= {"pin-poetry", "cache-mount"}
    assert run["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 3


def test_report_paths_can_be_opened_from_where_the_tool_ran(repos, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the files are outside the current folder: paths must be absolute
    code, out, _ = run_cli(["--format", "json", "--check", str(repos)])
    for entry in json.loads(out)["files"]:
        assert Path(entry["path"]).is_file() and Path(entry["context"]).is_dir(), entry
    monkeypatch.chdir(repos)  # inside: relative, and still valid
    code, out, _ = run_cli(["--format", "json", "--check", "."])
    for entry in json.loads(out)["files"]:
        assert not Path(entry["path"]).is_absolute() and Path(entry["path"]).is_file(), entry


def test_paths_outside_the_current_folder_are_absolute_in_every_report(repos, tmp_path, monkeypatch):
    """`../repos/alpha` from a sibling folder: JSON and messages show the absolute path the README promises,
    and a GitHub annotation keeps its leading slash (`tmp/...` would name nothing)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    absolute = str(repos / "alpha" / "Dockerfile")
    code, out, _ = run_cli(["--format", "json", "--check", "../repos/alpha"])
    assert [entry["path"] for entry in json.loads(out)["files"]] == [absolute]
    code, out, _ = run_cli(["--format", "github", "--check", str(repos / "alpha")])
    assert all(line.startswith(f"::warning file={absolute},") for line in out.decode().splitlines())
    code, _, err = run_cli(["--check", "--explain", "../repos/beta"])
    assert err.decode().startswith(str(repos / "beta" / "Dockerfile") + ": ")
    monkeypatch.chdir(repos)
    code, out, _ = run_cli(["--format", "github", "--check", "alpha"])  # inside: relative, as before
    assert out.decode().startswith("::warning file=alpha/Dockerfile,")


def test_sarif_uris_are_encoded_and_absolute_ones_are_file_uris(tmp_path, monkeypatch):
    weird = tmp_path / "we ird" / "a,b%c"
    make_project(weird)
    (weird / "Dockerfile").write_text(NAIVE)
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli(["--format", "sarif", "--check", "we ird"])
    uris = {result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for result in json.loads(out)["runs"][0]["results"]}
    assert uris == {"we%20ird/a%2Cb%25c/Dockerfile"}
    monkeypatch.chdir(weird / "app")
    code, out, _ = run_cli(["--format", "sarif", "--check", str(weird / "Dockerfile")])
    sarif = json.loads(out)
    uris = {result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for result in sarif["runs"][0]["results"]}
    assert uris == {(weird / "Dockerfile").as_uri()}
    help_text = sarif["runs"][0]["tool"]["driver"]["rules"][0]["help"]["text"]
    assert "\n    " not in help_text  # the docstring's indentation is gone


def test_configuration_in_pyproject(tmp_path):
    make_project(tmp_path, pyproject=CLASSIC + '\n[tool.poetry-docker-fix]\nskip = ["multi-stage"]\n'
                 'poetry-version = "1.8.2"\nextra-copy = ["config"]\n',
                 files={"config/app.yaml": "a: 1\n", ".dockerignore": ".venv\n"})
    (tmp_path / "Dockerfile").write_text(NAIVE)
    code, out, _ = run_cli([str(tmp_path / "Dockerfile")])
    text = out.decode()
    assert "poetry==1.8.2" in text and "AS runtime" not in text and "+COPY config ./config" in text
    code, out, _ = run_cli(["--poetry-version", "1.8.5", "--select", "pin-poetry,multi-stage,poetry-env",
                            str(tmp_path / "Dockerfile")])
    assert "poetry==1.8.5" in out.decode() and "AS runtime" in out.decode()  # --select beats the configured skip


def test_bad_configuration_is_an_input_error(tmp_path):
    make_project(tmp_path, pyproject=CLASSIC + '\n[tool.poetry-docker-fix]\nskipp = ["x"]\n')
    (tmp_path / "Dockerfile").write_text(NAIVE)
    code, _, err = run_cli([str(tmp_path / "Dockerfile")])
    assert code == 2 and "unknown key skipp" in err.decode()


@pytest.mark.parametrize("image", ["", " ", "python:3.11-slim AS x", "python:3.11\nRUN id", "Python:3.11",
                                   "python:3.11-slim bookworm"])
def test_a_runtime_image_that_is_not_an_image_name_is_an_input_error(tmp_path, image):
    make_project(tmp_path)
    (tmp_path / "Dockerfile").write_text(NAIVE)
    code, out, err = run_cli(["--runtime-image", image, str(tmp_path / "Dockerfile")])
    assert code == 2 and "--runtime-image" in err.decode() and out == b""
    make_project(tmp_path, pyproject=CLASSIC + f'\n[tool.poetry-docker-fix]\nruntime-image = {json.dumps(image)}\n')
    code, out, err = run_cli([str(tmp_path / "Dockerfile")])
    assert code == 2 and f"{tmp_path / 'pyproject.toml'}: [tool.poetry-docker-fix] runtime-image" in err.decode()


@pytest.mark.parametrize("image", ["python:3.11-slim-bookworm", "ghcr.io/acme/python-base:3.11", "${RUNTIME_IMAGE}",
                                   "localhost:5000/team/py:3.11@sha256:" + "0" * 64])
def test_runtime_image_names_docker_accepts(tmp_path, image):
    make_project(tmp_path)
    (tmp_path / "Dockerfile").write_text(NAIVE)
    code, out, _ = run_cli(["--runtime-image", image, str(tmp_path / "Dockerfile")])
    assert code == 0 and f"+FROM {image} AS runtime" in out.decode()


@pytest.mark.parametrize("key", ["select", "skip"])
def test_an_unknown_pass_in_the_configuration_names_the_file_even_with_select_given(tmp_path, key):
    make_project(tmp_path, pyproject=CLASSIC + f'\n[tool.poetry-docker-fix]\n{key} = ["cache-mounts"]\n')
    (tmp_path / "Dockerfile").write_text(NAIVE)
    code, _, err = run_cli(["--select", "pin-poetry", str(tmp_path / "Dockerfile")])
    assert code == 2
    assert f"{tmp_path / 'pyproject.toml'}: [tool.poetry-docker-fix] {key} names unknown pass cache-mounts" \
        in err.decode()


@pytest.mark.parametrize(("table", "said"), [('[tool]\npoetry-docker-fix = 3\n', "not an integer (3)"),
                                             ('[tool]\npoetry-docker-fix = ["x"]\n', "not an array (['x'])")])
def test_a_configuration_that_is_not_a_table_is_said_so(tmp_path, table, said):
    make_project(tmp_path, pyproject=CLASSIC + "\n" + table)
    (tmp_path / "Dockerfile").write_text(NAIVE)
    code, _, err = run_cli(["--check", str(tmp_path / "Dockerfile")])
    assert code == 2
    assert f"{tmp_path / 'pyproject.toml'}: [tool.poetry-docker-fix] must be a table, {said}" in err.decode()


@pytest.mark.parametrize(("config", "arguments"), [
    ("", ["--select", "pin-poetry", "--skip", "pin-poetry"]),
    ('select = ["pin-poetry"]', ["--skip", "pin-poetry"]),
    ('skip = ["pin-poetry", "narrow-copy", "poetry-env", "no-dev", "split-install", "multi-stage", "cache-mount"]', []),
])
def test_a_selection_that_leaves_no_pass_is_an_error_not_a_green_check(tmp_path, config, arguments):
    """`--check` with no pass to run would pass every file: a CI gate that checks nothing."""
    make_project(tmp_path, pyproject=CLASSIC + f"\n[tool.poetry-docker-fix]\n{config}\n")
    (tmp_path / "Dockerfile").write_text(NAIVE)
    code, out, err = run_cli(["--check", *arguments, str(tmp_path / "Dockerfile")])
    assert code == 2 and out == b"" and "no pass left to run" in err.decode()
    assert ("pyproject.toml" in err.decode()) == bool(config)  # the configuration's part is named


@pytest.mark.parametrize(("config", "flag", "added"), [
    ("syntax-directive = true", None, True), ("syntax-directive = true", "--no-syntax-directive", False),
    ("", "--syntax-directive", True), ("syntax-directive = false", "--syntax-directive", True), ("", None, False),
])
def test_the_syntax_directive_flag_wins_over_the_configuration_both_ways(tmp_path, config, flag, added):
    make_project(tmp_path, pyproject=CLASSIC + f"\n[tool.poetry-docker-fix]\n{config}\n")
    (tmp_path / "Dockerfile").write_text(NAIVE)
    code, out, err = run_cli([*([flag] if flag else []), str(tmp_path / "Dockerfile")])
    assert code == 0, err
    assert ("+# syntax=docker/dockerfile:1" in out.decode()) == added


def test_runtime_image_option(tmp_path):
    make_project(tmp_path)
    output, _ = fix(tmp_path, NAIVE, runtime_image="registry.example.com/platform/python:3.11-slim")
    assert "FROM registry.example.com/platform/python:3.11-slim AS runtime" in output


def test_file_wide_ignore_pragma(tmp_path):
    make_project(tmp_path)
    source = "# poetry-docker-fix: ignore\n" + NAIVE
    output, result = fix(tmp_path, source)
    assert output == source and "ignore" in result.reason


def test_instruction_ignore_pragma_blocks_only_that_pass(tmp_path):
    make_project(tmp_path)
    source = NAIVE.replace("RUN pip install poetry", "# poetry-docker-fix: ignore=pin-poetry\nRUN pip install poetry")
    output, result = fix(tmp_path, source)
    assert "RUN pip install poetry\n" in output and "AS runtime" in output
    assert any("ignore=pin-poetry" in note for note in notes(result))
    again, _ = fix(tmp_path, output)
    assert again == output


def test_a_pragma_on_the_line_a_change_is_reported_on_blocks_it(tmp_path):
    # poetry-env inserts its ENV block after the Poetry install and reports the change on that install: a
    # reviewer who marks the line the annotation names must see the change go, not stay without a word.
    make_project(tmp_path)
    source = NAIVE.replace("RUN pip install poetry", "# poetry-docker-fix: ignore=poetry-env\nRUN pip install poetry")
    output, result = fix(tmp_path, source)
    assert "POETRY_VIRTUALENVS_IN_PROJECT" not in output and "poetry==" in output  # pin-poetry still applies
    assert "not applied: line 3 is marked `# poetry-docker-fix: ignore=poetry-env`" in notes(result)
    again, _ = fix(tmp_path, output)
    assert again == output


def test_pragma_messages_name_the_line_of_the_file_as_given(tmp_path):
    # cache-mount runs after split-install has moved the install (and its pragma) up: the note must still
    # speak of the line in the file the user has, not of the half-rewritten one.
    make_project(tmp_path)
    source = NAIVE.replace("RUN poetry install", "# Poetry-Docker-Fix: IGNORE=all\nRUN poetry install")
    lines = source.splitlines()
    install_line = lines.index("RUN poetry install") + 1
    _, result = fix(tmp_path, source)
    blocked = [note for note in notes(result) if "not applied" in note]
    assert blocked and all(f"line {install_line} is marked `# Poetry-Docker-Fix: IGNORE=all`" in note
                           for note in blocked)


def test_a_pragma_cut_off_from_its_instruction_skips_the_file(tmp_path):
    make_project(tmp_path)
    source = NAIVE.replace("RUN poetry install", "# poetry-docker-fix: ignore=cache-mount\n\nRUN poetry install")
    output, result = fix(tmp_path, source)
    assert output == source and result.status.value == "skipped"
    assert "is not directly above an instruction" in result.reason


def test_a_pragma_inside_a_continuation_skips_the_file_saying_where_it_is(tmp_path):
    make_project(tmp_path)
    source = NAIVE.replace("RUN pip install poetry",
                           "RUN pip install \\\n    # poetry-docker-fix: ignore=pin-poetry\n    poetry")
    output, result = fix(tmp_path, source)
    assert output == source and result.status.value == "skipped"
    assert result.reason == ("line 3: `# poetry-docker-fix: ignore=pin-poetry` is inside the instruction that starts "
                             "at line 2, so it would protect nothing (put it on its own line above the instruction)")


def test_an_escape_directive_reason_shows_the_character(tmp_path):
    make_project(tmp_path)
    output, result = fix(tmp_path, "# escape=`\n" + NAIVE)
    assert result.reason == "escape directive '`' is not supported (only the default, a backslash)"


def test_a_pragma_naming_no_pass_skips_the_file_with_the_reason(tmp_path):
    make_project(tmp_path)
    source = NAIVE.replace("RUN pip install poetry", "# poetry-docker-fix: ignore=pin-poety\nRUN pip install poetry")
    output, result = fix(tmp_path, source)
    assert output == source and result.status.value == "skipped"
    assert result.reason.startswith("line 2: `# poetry-docker-fix: ignore=pin-poety` names no pass called pin-poety")


@pytest.mark.parametrize("case", sorted(p.name for p in GOLDEN.iterdir() if (p / "expected.Dockerfile").is_file()))
def test_every_change_and_note_points_at_an_instruction_of_the_input(case):
    # What reviewers see in annotations: the line a change or note names must be an instruction line of the
    # file as given, never a blank line, a comment, or a line number the input does not have.
    source = (GOLDEN / case / "Dockerfile").read_text()
    lines = source.splitlines()
    _, result = fix(GOLDEN / case, source)
    numbers = [change.original_line for outcome in result.outcomes for change in outcome.changes]
    numbers += [int(n) for note in notes(result) for n in __import__("re").findall(r"\bline (\d+)\b", note)]
    for number in numbers:
        assert number is not None and 1 <= number <= len(lines), (case, number)
        assert lines[number - 1].strip() and not lines[number - 1].lstrip().startswith("#"), (case, number)


def test_request_explicit_flags_beat_configuration(tmp_path):
    make_project(tmp_path, pyproject=CLASSIC + '\n[tool.poetry-docker-fix]\npoetry-version = "1.8.2"\n')
    (tmp_path / "Dockerfile").write_text(NAIVE)
    from poetry_docker_fix.refactor.versions import Version

    request = Request(options=Options(poetry_version=Version.parse("1.8.4")), explicit=frozenset({"poetry_version"}))
    [report] = process_many([tmp_path / "Dockerfile"], request, jobs=1)
    assert "poetry==1.8.4" in report.refactoring.output


@pytest.mark.parametrize(("target", "exclude"), [("old/Dockerfile", ["old"]), (".venv/Dockerfile", []),
                                                  ("env/Dockerfile", []), ("Dockerfile.prod", ["Dockerfile.prod"])])
def test_a_symlinked_dockerfile_whose_target_the_walk_leaves_out_is_processed_under_its_own_name(
        tmp_path, target, exclude):
    make_project(tmp_path)
    (tmp_path / target).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / target).write_text(NAIVE)
    if target.startswith("env/"):
        (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr/bin\n")  # a virtualenv under another name
    (tmp_path / "Dockerfile").symlink_to(target)
    assert [p.name for p in find_dockerfiles(tmp_path, exclude)] == ["Dockerfile"]


LIBCST_IN_WORKERS = """
import sys
from pathlib import Path
from poetry_docker_fix.refactor.runner import Request, Workers, find_dockerfiles

def libcst_loaded():
    import os, time
    time.sleep(0.01)  # so that both workers take some of these
    return os.getpid(), "libcst" in sys.modules

assert "libcst" not in sys.modules
with Workers(2, start_now=True) as workers:
    reports = workers.map(find_dockerfiles(Path(sys.argv[1])), Request())
    seen = {}
    while len(seen) < 2:
        seen.update(future.result() for future in [workers.pool.submit(libcst_loaded) for _ in range(4)])
    print(sorted({r.status.value for r in reports}), any(seen.values()))
"""


@pytest.mark.parametrize(("flat", "loaded"), [(False, "False"), (True, "True")])
def test_workers_import_libcst_only_for_a_project_whose_imports_they_read(tmp_path, flat, loaded):
    """libcst costs each worker about 0.12 s to import: a tree of packaged apps never needs it. A flat app
    (`python app.py` beside another module) does, and gets it."""
    import subprocess
    import sys

    for index in range(10):
        if flat and index == 3:
            make_project(tmp_path / f"p{index}", files={"app.py": "import helpers\n", "helpers.py": ""})
            (tmp_path / f"p{index}" / "Dockerfile").write_text(NAIVE.replace('"-m", "app.main"', '"app.py"'))
        else:
            make_project(tmp_path / f"p{index}")
            (tmp_path / f"p{index}" / "Dockerfile").write_text(NAIVE)
    completed = subprocess.run([sys.executable, "-c", LIBCST_IN_WORKERS, str(tmp_path)], capture_output=True,
                               text=True, check=False, env={**__import__("os").environ,
                                                            "POETRY_DOCKER_FIX_PREFETCH": "0"})
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["['changed']", loaded]


@pytest.mark.parametrize(("name", "development"), [
    ("Dockerfile.dev", True), ("dev.Dockerfile", True), ("Dockerfile-test", True), ("Dockerfile.ci", True),
    ("Containerfile.local.dev", True), ("test.dockerfile", True), ("Dockerfile", False), ("Dockerfile.prod", False),
    ("api.Dockerfile", False), ("Dockerfile.devops", False), ("Dockerfile.latest", False),
    ("Dockerfile.local", True), ("Dockerfile.e2e", True), ("Dockerfile.devcontainer", True),
    (".devcontainer/Dockerfile", True), ("Dockerfile.test.prod", False), ("Dockerfile.tools", False),
    ("Dockerfile.docs", False), ("Dockerfile.qa", False),
])
def test_named_for_development(name, development):
    from poetry_docker_fix.refactor.facts import named_for_development

    assert named_for_development(name) is development


def test_a_dockerfile_named_for_development_is_skipped_unless_passes_are_chosen(tmp_path):
    """`Dockerfile.dev` beside `Dockerfile.prod`: rewriting both for production took pytest and Poetry out of the
    development image (`docker run IMG poetry run pytest` failed: a QA build)."""
    make_project(tmp_path)
    (tmp_path / "Dockerfile.dev").write_text(NAIVE)
    (tmp_path / "Dockerfile.prod").write_text(NAIVE)
    code, out, err = run_cli(["--check", str(tmp_path)])
    assert code == 1
    assert b"+++ b/" in out and b"Dockerfile.prod" in out and b"Dockerfile.dev" not in out
    assert b"Dockerfile.dev: skipped: the file is named for development" in err
    code, out, _ = run_cli(["--check", "--select", "no-dev", str(tmp_path / "Dockerfile.dev")])
    assert code == 1 and b"--only main" in out
