"""``--verify``: the comparison, verdict and report (no Docker), then real builds on a Docker engine.

The real-engine tests build the golden case ``article-7-cache-mount`` (its ``Dockerfile`` against its
``expected.Dockerfile``, and against a copy whose ENTRYPOINT prints something else) and tiny one-file apps
(servers that keep running, a rewrite that does not build, venv paths in the output). They are skipped
without a reachable Docker daemon, or fail when ``POETRY_DOCKER_FIX_REQUIRE_DOCKER=1``, like
``tests/test_docker_e2e.py``. Each one checks that no image, container or temporary folder is left behind.
No assertion depends on timings.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from poetry_docker_fix import docker_engine as engine
from poetry_docker_fix import verify as verifying
from poetry_docker_fix.docker_engine import BuildResult, RunResult
from poetry_docker_fix.verify import (
    DockerUnavailable,
    LayerReuse,
    RunComparison,
    VariantResult,
    VerifyError,
    VerifyReport,
    assess,
    compare_runs,
    copy_context,
    dependency_layer,
    drop_poetry_messages,
    format_report,
    format_size,
    normalise_venv_paths,
    split_command,
    verify,
)
from tests.conftest import DockerEngine, use_docker

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
ARTICLE_7 = GOLDEN / "article-7-cache-mount"


# --------------------------------------------------------------------------- venv paths


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("/root/.cache/pypoetry/virtualenvs/app-xYz12AbC-py3.11/bin/python", "<venv>/bin/python", id="poetry-cache"),
        pytest.param("/app/.venv/bin/python", "<venv>/bin/python", id="in-project"),
        pytest.param("VIRTUAL_ENV=/opt/venv\n", "VIRTUAL_ENV=<venv>\n", id="opt-venv"),
        pytest.param(".venv/bin/python", "<venv>/bin/python", id="relative"),
        pytest.param(
            '  File "/root/.cache/pypoetry/virtualenvs/app-xyz-py3.11/lib/python3.11/site-packages/fastapi/__init__.py"',
            '  File "<site-packages>/fastapi/__init__.py"',
            id="traceback-poetry-venv",
        ),
        pytest.param("/app/.venv/lib/python3.11/site-packages/fastapi", "<site-packages>/fastapi", id="site-packages-venv"),
        pytest.param("/usr/local/lib/python3.11/site-packages/six.py", "<site-packages>/six.py", id="system-site-packages"),
        pytest.param("Creating virtualenv app in /root/.cache/pypoetry/virtualenvs", "Creating virtualenv app in <venv>",
                     id="venvs-folder"),
        pytest.param("/usr/local/bin/python", "/usr/local/bin/python", id="system-python-kept"),
        pytest.param("/app/src/venvy/x.py and my venv", "/app/src/venvy/x.py and my venv", id="not-a-venv"),
        pytest.param("/home/me/project-venv/bin", "/home/me/project-venv/bin", id="suffix-not-a-venv"),
    ],
)
def test_normalise_venv_paths(text: str, expected: str) -> None:
    assert normalise_venv_paths(text) == expected


def test_drop_poetry_messages_keeps_the_program_s_lines() -> None:
    stderr = (
        "Skipping virtualenv creation, as specified in config file.\n"
        "\n"
        "Warning: 'greet' is an entry point defined in pyproject.toml, but it's not installed as a script. "
        "You may get improper `sys.argv[0]`.\n"
        "WARNING:root:the program's own warning\n"
    )
    assert drop_poetry_messages(stderr) == "WARNING:root:the program's own warning\n"
    assert drop_poetry_messages("") == ""


# --------------------------------------------------------------------------- comparing runs


def _run(code: int = 0, stdout: str = "", stderr: str = "", *, running: bool = False, timeout: float = 10) -> RunResult:
    if running:
        return RunResult(124, stdout, stderr + f"\n{engine.stop_notice(timeout)}\n", timed_out=True)
    return RunResult(code, stdout, stderr)


def test_compare_same_output() -> None:
    result = compare_runs(_run(0, "hello\n", "log\n"), _run(0, "hello\n", "log\n"))
    assert result == RunComparison(True, "same output")


def test_compare_venv_path_only() -> None:
    original = _run(0, "/root/.cache/pypoetry/virtualenvs/app-xyz-py3.11/lib/python3.11/site-packages/fastapi\n")
    rewritten = _run(0, "/app/.venv/lib/python3.11/site-packages/fastapi\n")
    result = compare_runs(original, rewritten)
    assert result.same and result.summary == "same output (venv path differs only)"


def test_compare_poetry_messages_only() -> None:
    original = _run(0, "hi\n", "Skipping virtualenv creation, as specified in config file.\n")
    result = compare_runs(original, _run(0, "hi\n"))
    assert result.same and result.summary == "same output (Poetry's own messages differ only)"


def test_compare_different_stdout_names_the_line() -> None:
    result = compare_runs(_run(0, "annapurna 1.0.0\n"), _run(0, "something else\n"))
    assert not result.same and result.summary == "output differs"
    assert result.detail == "stdout differs at line 1: original 'annapurna 1.0.0', rewritten 'something else'"


def test_compare_missing_line() -> None:
    result = compare_runs(_run(0, "a\nb\n"), _run(0, "a\n"))
    assert result.detail == "stdout differs at line 2: original 'b', rewritten <end>"


def test_compare_different_stderr() -> None:
    result = compare_runs(_run(0, "x\n", "INFO one\n"), _run(0, "x\n", "INFO two\n"))
    assert not result.same and result.summary == "stderr differs" and result.detail.startswith("stderr differs at line 1")


def test_compare_exit_codes() -> None:
    result = compare_runs(_run(0, "ok\n"), _run(1, "", "Traceback…\nModuleNotFoundError: No module named 'fastapi'\n"))
    assert not result.same and result.summary == "exit code differs"
    assert "original 0, rewritten 1" in result.detail and "ModuleNotFoundError" in result.detail


def test_compare_both_kept_running_with_a_snapshot_prefix() -> None:
    original = _run(stdout="serving on :8000\nGET /\n", running=True)
    rewritten = _run(stdout="serving on :8000\n", running=True)
    result = compare_runs(original, rewritten, timeout=10)
    assert result.same and result.summary == "both kept running, same output"


def test_compare_both_kept_running_but_different() -> None:
    result = compare_runs(_run(stdout="serving\n", running=True), _run(stdout="crashed?\n", running=True))
    assert not result.same and result.summary == "both kept running, output differs"
    assert result.detail.startswith("stdout so far differs")


def test_compare_only_one_kept_running() -> None:
    result = compare_runs(_run(0, "done\n"), _run(stdout="", running=True), timeout=10)
    assert not result.same
    assert result.detail == "the original exited with code 0 but the rewritten kept running after 10 s"


def test_exit_124_is_not_a_timeout() -> None:
    assert not compare_runs(_run(124, "x\n"), _run(124, "x\n", running=True)).same


# --------------------------------------------------------------------------- the dependency layer in a build log

NAIVE_REBUILD = """\
#5 [1/4] FROM docker.io/library/python:3.11-buster
#5 DONE 0.0s
#6 [2/4] RUN pip install poetry
#6 CACHED
#7 [3/4] COPY . .
#7 DONE 0.1s
#8 [4/4] RUN poetry install
#8 0.9 Installing dependencies from lock file
#8 DONE 3.2s
"""

SPLIT_REBUILD = """\
#9 [builder 5/7] RUN --mount=type=cache,target=/tmp/poetry_cache poetry install --only main --no-root
#9 CACHED
#10 [builder 7/7] RUN mkdir -p app && touch app/__init__.py && poetry install --only-root
#10 CACHED
#11 [runtime 4/4] COPY app ./app
#11 DONE 0.0s
"""


def test_dependency_layer_from_build_logs() -> None:
    assert dependency_layer(NAIVE_REBUILD) is LayerReuse.REBUILT
    assert dependency_layer(SPLIT_REBUILD) is LayerReuse.REUSED
    assert dependency_layer("#4 [2/2] RUN pip install -r requirements.txt\n#4 CACHED\n") is LayerReuse.NOT_FOUND
    only_root_ran = "#3 [a 2/3] RUN poetry install --only main\n#3 DONE 1s\n#4 [a 3/3] RUN poetry install --only-root\n#4 DONE 1s\n"
    assert dependency_layer(only_root_ran) is LayerReuse.REBUILT
    assert verifying.changed_steps(NAIVE_REBUILD) == 2
    assert verifying.changed_steps(SPLIT_REBUILD) == 1


def test_build_error_picks_the_error_line() -> None:
    log = "#5 [2/2] RUN exit 3\n#5 ERROR: executor failed running [/bin/sh -c exit 3]: exit code: 3\n------\n"
    assert verifying.build_error(BuildResult(1, log, "t")) == "ERROR: executor failed running [/bin/sh -c exit 3]: exit code: 3"
    assert verifying.build_error(BuildResult(1, "", "t")) == "no output"


# --------------------------------------------------------------------------- verdict


def _variant(name: str, *, built: bool = True, size: int = 100, layer: LayerReuse = LayerReuse.REUSED,
             rebuild_ok: bool = True, run: RunResult | None = None) -> VariantResult:
    build = BuildResult(0 if built else 1, "" if built else "#5 ERROR: executor failed: exit code: 3\n", f"x:{name}")
    rebuild = BuildResult(0 if rebuild_ok else 2, "" if rebuild_ok else "ERROR: boom\n", f"x:{name}-rebuild")
    return VariantResult(
        name,
        build=build,
        build_seconds=12.34,
        size=size if built else None,
        rebuild=rebuild if built else None,
        rebuild_seconds=1.0 if built else None,
        dependency_layer=layer if built else LayerReuse.NOT_MEASURED,
        rebuild_changed_steps=1 if built else None,
        run=(run or _run(0, "hi\n")) if built else None,
    )


def test_assess_passes_a_good_rewrite() -> None:
    original = _variant("original", size=1_000, layer=LayerReuse.REBUILT)
    rewritten = _variant("rewritten", size=200)
    assert assess(original, rewritten, RunComparison(True, "same output")) == ([], [])


def test_assess_fails_on_behaviour_and_builds() -> None:
    original = _variant("original")
    problems, _ = assess(original, _variant("rewritten"), RunComparison(False, "output differs", "stdout differs at line 1: …"))
    assert problems == ["the rewritten image behaves differently: stdout differs at line 1: …"]

    problems, _ = assess(original, _variant("rewritten", built=False), None)
    assert problems == ["the rewritten Dockerfile does not build (exit 1: ERROR: executor failed: exit code: 3)"]

    problems, _ = assess(_variant("original", built=False), _variant("rewritten"), None)
    assert len(problems) == 1 and problems[0].startswith("the original Dockerfile does not build")

    problems, _ = assess(original, _variant("rewritten", rebuild_ok=False), RunComparison(True, "same output"))
    assert problems == ["the rewritten Dockerfile does not rebuild after a code-only change (exit 2: ERROR: boom)"]


def test_assess_notes_do_not_fail() -> None:
    original = _variant("original", size=100)
    rewritten = _variant("rewritten", size=150, layer=LayerReuse.REBUILT)
    rewritten.rebuild_changed_steps = 0
    problems, notes = assess(original, rewritten, RunComparison(True, "same output"), touched_file="app/main.py")
    assert problems == []
    assert notes == [
        "the rewrite still re-runs its dependency install after a code-only change",
        "the rewritten image is not smaller (150 B vs 100 B)",
        ("appending a comment to app/main.py changed no build step of the rewritten image: that file is not in it, "
         "so its rebuild measures nothing"),
    ]


# --------------------------------------------------------------------------- formatting


def test_format_size() -> None:
    assert [format_size(n) for n in (None, 999, 1500, 211_000_000, 1_020_000_000, 99_960_000)] == [
        "-", "999 B", "1.50 kB", "211 MB", "1.02 GB", "100 MB",
    ]


def test_format_report_pass() -> None:
    original = _variant("original", size=1_020_000_000, layer=LayerReuse.REBUILT)
    original.build_seconds, original.rebuild_seconds = 41.23, 38.9
    rewritten = _variant("rewritten", size=211_000_000)
    rewritten.build_seconds, rewritten.rebuild_seconds = 18.3, 0.94
    report = VerifyReport(original, rewritten, RunComparison(True, "same output (venv path differs only)"),
                          touched_file="annapurna/main.py")
    assert report.ok
    assert format_report(report) == (
        "                       original     rewritten\n"
        "build (cold)           41.2 s       18.3 s\n"
        "image size             1.02 GB      211 MB\n"
        "rebuild after code     38.9 s       0.9 s\n"
        "dependency layer       rebuilt      reused\n"
        "run                    exit 0       exit 0       same output (venv path differs only)\n"
        "\n"
        "code-only change: a comment appended to annapurna/main.py\n"
        "\n"
        "verify: PASS: the rewritten Dockerfile builds and its image behaves like the original's\n"
    )


def test_format_report_fail() -> None:
    original = _variant("original", run=_run(stdout="up\n", running=True))
    rewritten = _variant("rewritten", built=False)
    problems, notes = assess(original, rewritten, None)
    report = VerifyReport(original, rewritten, None, problems, notes, command=["python", "-c", "print('x y')"])
    assert not report.ok
    text = format_report(report)
    lines = text.splitlines()
    assert lines[1] == "build (cold)           12.3 s       failed (exit 1)"
    assert lines[2] == "image size             100 B        -"
    assert lines[5] == "run                    running      -"
    assert "command: python -c 'print('\"'\"'x y'\"'\"')'" in lines
    assert lines[-2:] == [
        "verify: FAIL: 1 problem",
        "  - the rewritten Dockerfile does not build (exit 1: ERROR: executor failed: exit code: 3)",
    ]


def test_split_command() -> None:
    assert split_command("python -c 'print(1)'") == ["python", "-c", "print(1)"]
    with pytest.raises(ValueError):
        split_command("  ")
    with pytest.raises(ValueError):
        split_command("echo 'unbalanced")


# --------------------------------------------------------------------------- the context copy and cleanup (no Docker)


def test_copy_context_skips_vcs_and_environments(tmp_path: Path) -> None:
    source = tmp_path / "project"
    for folder in (".git/objects", ".venv/bin", "node_modules/x", "pkg/.venv", "pkg/sub"):
        (source / folder).mkdir(parents=True)
    (source / "pkg" / "sub" / "m.py").write_text("x = 1\n")
    (source / ".dockerignore").write_text("*.log\n")
    (source / "link.py").symlink_to("pkg/sub/m.py")
    copy_context(source, tmp_path / "copy")
    copied = sorted(p.relative_to(tmp_path / "copy").as_posix() for p in (tmp_path / "copy").rglob("*"))
    assert copied == [".dockerignore", "link.py", "pkg", "pkg/sub", "pkg/sub/m.py"]
    assert (tmp_path / "copy" / "link.py").is_symlink()
    with pytest.raises(VerifyError):
        copy_context(tmp_path / "missing", tmp_path / "copy2")


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point tempfile at an empty folder, so a test can see what verify left in it."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_no_docker_client_raises_docker_unavailable(private_tmp: Path) -> None:
    with pytest.raises(DockerUnavailable, match="no Docker daemon reachable.*/nonexistent/docker-client"):
        verify("FROM x\n", "FROM x\n", ARTICLE_7, docker="/nonexistent/docker-client", build_args={}, command=None,
               timeout=1, progress=None)
    assert list(private_tmp.iterdir()) == []
    assert issubclass(DockerUnavailable, VerifyError)


@dataclass
class _FakeEngine:
    removed_images: list
    removed_containers: list


@pytest.fixture
def fake_engine(monkeypatch: pytest.MonkeyPatch) -> _FakeEngine:
    """A Docker engine that answers, and records what verify asks it to remove."""
    fake = _FakeEngine([], [])
    monkeypatch.setattr(engine, "docker_available", lambda docker=None, **_: (True, "fake engine"))
    monkeypatch.setattr(engine, "remove_images", lambda tags, docker=None: fake.removed_images.extend(tags))
    monkeypatch.setattr(engine, "remove_containers", lambda names, docker=None: fake.removed_containers.extend(names))
    monkeypatch.setattr(engine, "images_with_label", lambda label, docker=None: [])
    monkeypatch.setattr(engine, "containers_with_label", lambda label, docker=None: [])
    return fake


def test_keyboard_interrupt_still_cleans_up(private_tmp: Path, fake_engine: _FakeEngine,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args, **kwargs):
        assert any(private_tmp.iterdir()), "the context should have been copied by now"
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "build_image", interrupted)
    messages: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        verify("FROM x\n", "FROM y\n", ARTICLE_7, docker="docker", build_args={}, command=None, timeout=1,
               progress=messages.append)
    assert list(private_tmp.iterdir()) == []
    assert len(fake_engine.removed_images) == 1 and fake_engine.removed_images[0].endswith(":original")
    assert fake_engine.removed_images[0].startswith(verifying.REPOSITORY_PREFIX + "-annapurna-")
    assert messages[-1] == "verify: removing the images, containers and temporary files it made"


def test_client_without_buildkit_is_docker_unavailable(private_tmp: Path, fake_engine: _FakeEngine,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    message = "ERROR: BuildKit is enabled but the buildx component is missing or broken.\n"
    monkeypatch.setattr(engine, "build_image", lambda context, dockerfile, tag, **_: BuildResult(1, message, tag))
    with pytest.raises(DockerUnavailable, match="cannot build with BuildKit.*--docker"):
        verify("FROM x\n", "FROM y\n", ARTICLE_7, docker="docker", build_args={}, command=None, timeout=1, progress=None)
    assert list(private_tmp.iterdir()) == []


def test_daemon_gone_during_a_build_is_docker_unavailable(private_tmp: Path, fake_engine: _FakeEngine,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([(True, "fake engine"), (False, "`docker info` failed (exit 1): Cannot connect to the Docker daemon")])
    monkeypatch.setattr(engine, "docker_available", lambda docker=None, **_: next(answers))
    monkeypatch.setattr(engine, "build_image", lambda context, dockerfile, tag, **_: BuildResult(1, "unexpected EOF\n", tag))
    with pytest.raises(DockerUnavailable, match="stopped answering during verification.*Cannot connect"):
        verify("FROM x\n", "FROM y\n", ARTICLE_7, docker="docker", build_args={}, command=None, timeout=1, progress=None)
    assert list(private_tmp.iterdir()) == [] and fake_engine.removed_images


def test_dockerfiles_are_written_outside_the_context_without_syntax_line(
    private_tmp: Path, fake_engine: _FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[Path, Path, str, dict, list]] = []

    def build(context, dockerfile, tag, *, docker=None, build_args=None, extra_args=(), **_):
        assert (context / "annapurna" / "main.py").is_file()
        seen.append((context, dockerfile, dockerfile.read_text(), dict(build_args), list(extra_args)))
        return BuildResult(1, "#5 ERROR: nope\n", tag)

    monkeypatch.setattr(engine, "build_image", build)
    report = verify("# syntax=docker/dockerfile:1\nFROM x\n", "\ufeffFROM y\n", ARTICLE_7, docker="docker",
                    build_args={"A": "1"}, command=None, timeout=1, progress=None)
    assert [text for _, _, text, _, _ in seen] == ["FROM x\n", "FROM y\n"]
    for context, dockerfile, _, build_args, extra in seen:
        assert context.name == "context" and dockerfile.parent == context.parent
        assert build_args == {"A": "1"} and "--no-cache" in extra and "--label" in extra
    assert not report.ok and len(report.problems) == 2
    assert report.original.run is None and report.comparison is None
    assert list(private_tmp.iterdir()) == []


# --------------------------------------------------------------------------- real Docker engine


@pytest.fixture
def no_leftovers(docker: str, private_tmp: Path, monkeypatch: pytest.MonkeyPatch):
    """Record the repositories verify makes; afterwards require their images, containers and temp files gone."""
    repositories: list[str] = []
    original_unique_repository = engine.unique_repository

    def recording(name: str, prefix: str = "pdf-e2e") -> str:
        repository = original_unique_repository(name, prefix)
        repositories.append(repository)
        return repository

    monkeypatch.setattr(engine, "unique_repository", recording)
    yield repositories
    leftovers = []
    for repository in repositories:
        label = f"{verifying.LABEL_KEY}={repository}"
        leftovers += [f"image {image}" for image in engine.images_with_label(label, docker=docker)]
        leftovers += [f"container {container}" for container in engine.containers_with_label(label, docker=docker)]
        leftovers += [f"image {repository}:{what}" for what in ("original", "rewritten", "original-rebuild",
                                                               "rewritten-rebuild")
                      if engine.image_exists(f"{repository}:{what}", docker=docker)]
    # Clean up whatever a failing verify left, then report it.
    for repository in repositories:
        label = f"{verifying.LABEL_KEY}={repository}"
        engine.remove_containers(engine.containers_with_label(label, docker=docker), docker=docker)
        engine.remove_images(engine.images_with_label(label, docker=docker), docker=docker)
    leftovers += [f"temporary file {path}" for path in private_tmp.iterdir()]
    assert not leftovers, "verify left behind: " + ", ".join(leftovers)


def _verify(original: str, rewritten: str, context: Path, docker: str, **options) -> VerifyReport:
    messages: list[str] = []
    options.setdefault("timeout", 20)
    report = verify(original, rewritten, context, docker=docker, build_args=options.pop("build_args", {}),
                    command=options.pop("command", None), progress=messages.append, **options)
    print("\n".join(messages))
    print(format_report(report))
    return report


def test_verify_golden_article_7(
    docker_engine: DockerEngine, docker: str, no_leftovers: list[str]
) -> None:
    use_docker(docker_engine)
    original = (ARTICLE_7 / "Dockerfile").read_text(encoding="utf-8")
    rewritten = (ARTICLE_7 / "expected.Dockerfile").read_text(encoding="utf-8")
    report = _verify(original, rewritten, ARTICLE_7, docker)
    text = format_report(report)
    assert report.ok, text
    assert report.problems == []
    assert report.comparison is not None and report.comparison.same
    assert report.original.run.stdout == "annapurna 1.0.0 fastapi 0.95.2\n"
    assert report.rewritten.dependency_layer is LayerReuse.REUSED, text
    assert report.original.dependency_layer is LayerReuse.REBUILT, text
    assert report.rewritten.size < report.original.size, text
    assert report.touched_file is not None and report.touched_file.startswith("annapurna/")
    assert "verify: PASS" in text
    # The user's folder was not touched.
    assert "poetry-docker-fix --verify" not in (ARTICLE_7 / report.touched_file).read_text(encoding="utf-8")


def test_verify_golden_article_7_with_changed_output_fails(
    docker_engine: DockerEngine, docker: str, no_leftovers: list[str]
) -> None:
    use_docker(docker_engine)
    original = (ARTICLE_7 / "Dockerfile").read_text(encoding="utf-8")
    expected = (ARTICLE_7 / "expected.Dockerfile").read_text(encoding="utf-8")
    entrypoint = 'ENTRYPOINT ["python", "-m", "annapurna.main"]'
    assert entrypoint in expected
    rewritten = expected.replace(entrypoint, 'ENTRYPOINT ["python", "-c", "print(\'something else\')"]')
    report = _verify(original, rewritten, ARTICLE_7, docker)
    assert not report.ok
    assert report.comparison is not None and report.comparison.summary == "output differs"
    assert report.problems == [
        ("the rewritten image behaves differently: stdout differs at line 1: "
         "original 'annapurna 1.0.0 fastapi 0.95.2', rewritten 'something else'")
    ]
    assert "verify: FAIL: 1 problem" in format_report(report)


def _tiny_app(tmp_path: Path, source: str = "print('hello')\n") -> Path:
    context = tmp_path / "tiny"
    context.mkdir()
    (context / "app.py").write_text(source)
    return context


TINY = "FROM python:3.11-slim\nWORKDIR /srv\nCOPY app.py .\n"


def test_verify_servers_that_keep_running(
    docker_engine: DockerEngine, docker: str, no_leftovers: list[str], tmp_path: Path
) -> None:
    use_docker(docker_engine)
    context = _tiny_app(tmp_path, "import sys, time\nprint('up', sys.argv[1:], flush=True)\ntime.sleep(600)\n")
    original = TINY + 'CMD ["python", "app.py"]\n'
    rewritten = TINY + 'ENV PYTHONDONTWRITEBYTECODE=1\nCMD ["python", "app.py"]\n'
    report = _verify(original, rewritten, context, docker, timeout=4, command=["python", "app.py", "--port", "80"])
    assert report.ok, format_report(report)
    assert report.comparison.summary == "both kept running, same output"
    assert report.original.run.timed_out and report.rewritten.run.timed_out
    assert report.original.run.stdout == "up ['--port', '80']\n"
    assert report.original.dependency_layer is LayerReuse.NOT_FOUND
    assert ["run", "running", "running", "both", "kept"] == format_report(report).splitlines()[5].split()[:5]
    assert report.rewritten.rebuild_changed_steps == 1  # its COPY, not taken from the original's rebuild


def test_verify_one_keeps_running_the_other_exits(
    docker_engine: DockerEngine, docker: str, no_leftovers: list[str], tmp_path: Path
) -> None:
    use_docker(docker_engine)
    context = _tiny_app(tmp_path, "import sys, time\nprint('up', flush=True)\nif sys.argv[1:]: time.sleep(600)\n")
    report = _verify(TINY + 'CMD ["python", "app.py"]\n', TINY + 'CMD ["python", "app.py", "serve"]\n', context, docker,
                     timeout=4)
    assert not report.ok
    assert report.problems == [
        "the rewritten image behaves differently: the original exited with code 0 but the rewritten kept running after 4 s"
    ]


def test_verify_venv_path_only_and_a_rewrite_that_does_not_build(
    docker_engine: DockerEngine, docker: str, no_leftovers: list[str], tmp_path: Path
) -> None:
    use_docker(docker_engine)
    context = _tiny_app(tmp_path, "import os\nprint(os.environ['VENV'] + '/bin/python')\n")
    original = TINY + 'ENV VENV=/root/.cache/pypoetry/virtualenvs/tiny-AbCd1234-py3.11\nCMD ["python", "app.py"]\n'
    rewritten = TINY + 'ENV VENV=/app/.venv\nCMD ["python", "app.py"]\n'
    report = _verify(original, rewritten, context, docker, build_args={"UNUSED": "1"})
    assert report.ok, format_report(report)
    assert report.comparison.summary == "same output (venv path differs only)"
    assert report.touched_file == "app.py"

    broken = TINY + "RUN echo broken && exit 3\n"
    report = _verify(original, broken, context, docker)
    assert not report.ok
    assert len(report.problems) == 1 and report.problems[0].startswith("the rewritten Dockerfile does not build (exit 1")
    assert report.rewritten.run is None and report.original.run is not None
    assert "failed (exit 1)" in format_report(report)
