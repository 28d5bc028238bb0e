"""Build benchmark: the naive Dockerfile, the careful human's and poetry-docker-fix's output, side by side.

Usage (from the repository root, with the tool installed in the interpreter that runs this script and a Docker
engine reachable, BuildKit-capable, with the base images already local)::

    python bench/build_benchmark.py                       # the 4 default cases, 3 runs each
    python bench/build_benchmark.py --runs 5 --cases article-7-cache-mount,heavy-pandas
    python bench/build_benchmark.py --cold-cache-mounts keep   # leave BuildKit's cache mounts warm
    python bench/build_benchmark.py --from-json bench/results/build.json   # redo build.md/png, build nothing

Cases. A case name is a folder of ``golden/`` or of ``bench/projects/`` (a tiny Poetry project with its naive
``Dockerfile`` and a ``case.toml`` whose ``[e2e] expected_stdout`` is what the app prints). Each case also needs
``bench/human/<case>.Dockerfile`` (the careful human's Dockerfile, hand-written from the article's final
version) and ``bench/projects/<case>-depchange/`` (a pyproject.toml and poetry.lock that add one dependency,
locked beforehand by the same Poetry version that wrote the case's lock). The defaults are
``article-7-cache-mount``, ``src-layout-script``, ``pep621-package-mode-false`` and
``heavy-pandas`` (pandas + numpy), all golden cases.

Variants built for every case:

``naive``  the case's ``Dockerfile`` as it is;
``human``  ``bench/human/<case>.Dockerfile``;
``tool``   ``poetry-docker-fix -q [case.toml options] -o ... Dockerfile`` run on a copy of the case (for golden
           cases this is ``expected.Dockerfile``; a difference is reported).

What is measured, for each case x variant, in every run (the runs interleave cases and variants, so a slow
spell of the network or of the machine does not hit one variant only); each figure is the median of the runs:

cold build
    Wall-clock time of ``DOCKER_BUILDKIT=1 docker build --no-cache --network=host`` in a fresh copy of the
    case, after the variant's images from the previous run were removed. With ``--cold-cache-mounts prune``
    (the default) BuildKit's cache mounts are emptied first (``docker builder prune -f --filter
    type=exec.cachemount``): a cold build downloads every package, as on a fresh CI machine. With ``keep`` they
    stay warm, which favours the variants that use a cache mount (human and tool). The base images are local
    and never pulled. The image is run (``--network=none``) and must print the case's expected line.
image size
    ``docker image inspect -f {{.Size}}`` of the cold-built image, in MB (10^6 bytes).
code-change rebuild
    A comment with random text is appended to one Python source file of the copy (the same file the end-to-end
    tests touch), then the same ``docker build`` runs again with the build cache (and the cache mounts the cold
    build filled). The rebuilt image must print the same line.
dependency-change rebuild
    The copy's pyproject.toml and poetry.lock are replaced by the ``-depchange`` pair (one more dependency,
    ``tabulate``; the other locked versions unchanged; prepared in advance, not re-locked during the run, so
    the change is the same in every run), then the build runs again with the cache. A comment with random text
    is appended to that pyproject.toml, so that no earlier run's layers match (a TOML comment does not change
    Poetry's content-hash). The image must print the same line and the new distribution must be installed.

All times are wall-clock seconds of the whole ``docker build`` command (client start, context upload, every
step, export of the image). The engine may be shared (other sessions' tests build on it too): before each
timed build the script waits up to 5 minutes for other clients' ``docker build`` commands to finish, and
while it builds it polls for them; a build that overlapped one is marked "contended" and counted per cell. For each rebuild the script also keeps, from BuildKit's plain progress log, which
steps were not CACHED and how long each took, and names the slowest in the report ("where the time goes").

Outputs: ``bench/results/build.md`` (printed too), ``bench/results/build.json`` (every run's raw numbers and
step timings) and ``bench/results/build.png`` (bar charts; needs matplotlib, imported lazily: without it the
chart is skipped with a message). Every image the script builds is removed at the end, also after an error
or Ctrl-C; the temporary copies are deleted. ``golden/`` is only read.

Exit status: 0 when every build and check passed, 1 when any failed (its cells read FAILED), 2 on bad usage.
The goals (tool no larger and no slower than the human; tool >= 3x smaller and >= 20x faster on code-only
rebuilds than naive) are reported as met or not; they do not change the exit status.
"""

from __future__ import annotations

import argparse
import json
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Self

import tomllib

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY_ROOT))

from poetry_docker_fix import docker_engine

BENCH_DIR = REPOSITORY_ROOT / "bench"
GOLDEN_DIR = REPOSITORY_ROOT / "golden"
PROJECTS_DIR = BENCH_DIR / "projects"
HUMAN_DIR = BENCH_DIR / "human"
RESULTS_DIR = BENCH_DIR / "results"

DEFAULT_CASES = ("article-7-cache-mount", "src-layout-script", "pep621-package-mode-false", "heavy-pandas")
VARIANTS = ("naive", "human", "tool")
MEASURES = ("cold", "size", "code", "dep")
MEASURE_TITLES = {
    "cold": "cold build (s)",
    "size": "image size (MB)",
    "code": "code-change rebuild (s)",
    "dep": "dependency-change rebuild (s)",
}
# The Dockerfile copies written into each build context; dockerignored there, so `COPY . .` does not see them.
DOCKERFILE_COPY = ".bench-{variant}.Dockerfile"
BUILD_TIMEOUT_SECONDS = 1200
# Before each timed build, wait up to this long for other clients' builds (other sessions' tests) to finish.
QUIET_WAIT_SECONDS = 300
LOG_FLOOR_SECONDS = 0.01  # the rebuild charts are on a log scale: a cached rebuild takes well under a second


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    name: str
    project: Path
    human_dockerfile: Path
    depchange: Path
    expected_stdout: str
    options: tuple[str, ...]
    new_distributions: tuple[str, ...]  # what the depchange lock adds; checked in the rebuilt image


def _locked_names(lock: Path) -> set[str]:
    return {package["name"] for package in tomllib.loads(lock.read_text(encoding="utf-8")).get("package", [])}


def load_case(name: str) -> Case:
    """Find a case in golden/ or bench/projects/ and check that everything it needs is there."""
    for root in (GOLDEN_DIR, PROJECTS_DIR):
        project = root / name
        if (project / "Dockerfile").is_file():
            break
    else:
        raise SystemExit(f"build_benchmark: no case {name!r} (no Dockerfile in golden/{name} or bench/projects/{name})")
    config_file = project / "case.toml"
    config = tomllib.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
    expected = config.get("e2e", {}).get("expected_stdout")
    if not isinstance(expected, str):
        raise SystemExit(f"build_benchmark: {config_file} has no [e2e] expected_stdout: the case is not runnable")
    human = HUMAN_DIR / f"{name}.Dockerfile"
    depchange = PROJECTS_DIR / f"{name}-depchange"
    for needed in (human, depchange / "pyproject.toml", depchange / "poetry.lock"):
        if not needed.is_file():
            raise SystemExit(f"build_benchmark: case {name}: {needed} is missing")
    added = _locked_names(depchange / "poetry.lock") - _locked_names(project / "poetry.lock")
    return Case(name, project, human, depchange, expected, tuple(config.get("options", ())), tuple(sorted(added)))


# --------------------------------------------------------------------------- docker helpers (beyond docker_engine)


def docker(*arguments: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return docker_engine.docker_command([docker_engine.docker_binary(), *arguments], timeout=timeout)


def prune_cache_mounts() -> None:
    """Empty BuildKit's cache mounts (those not in use by a running build)."""
    docker("builder", "prune", "-f", "--filter", "type=exec.cachemount")


def run_with_entrypoint(tag: str, entrypoint: str, arguments: list[str]) -> docker_engine.RunResult:
    completed = docker("run", "--rm", "--network=none", "--entrypoint", entrypoint, tag, *arguments)
    return docker_engine.RunResult(completed.returncode, completed.stdout, completed.stderr)


def foreign_builds(own_tag: str) -> int:
    """How many ``docker build`` commands of other clients are running now (they compete for the 2 cores)."""
    completed = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=False)
    return sum(
        1
        for line in completed.stdout.splitlines()
        if " build " in f" {line} " and "docker" in line.split(" ", 1)[0] and own_tag not in line
    )


class ContentionMonitor:
    """Polls, in a background thread, whether another client's ``docker build`` runs while ours does."""

    def __init__(self, own_tag: str, interval: float = 0.2) -> None:
        self.own_tag = own_tag
        self.interval = interval
        self.seen = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            if foreign_builds(self.own_tag):
                self.seen = True
            self._stop.wait(self.interval)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()


def wait_for_quiet_engine(own_tag: str, limit: float = QUIET_WAIT_SECONDS) -> None:
    """Wait (at most ``limit`` seconds) until no other client's ``docker build`` runs."""
    deadline = time.monotonic() + limit
    while foreign_builds(own_tag) and time.monotonic() < deadline:
        time.sleep(2)


def wait_for_daemon(limit: float = 180) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if docker_engine.docker_available()[0]:
            return True
        time.sleep(5)
    return False


DAEMON_LOST = ("Cannot connect to the Docker daemon", "cannot connect to the Docker daemon", "unexpected EOF")


def step_durations(output: str) -> list[tuple[str, str, float | None]]:
    """(step name, status, seconds) for every Dockerfile step in a BuildKit plain log (seconds from ``DONE x.ys``)."""
    seconds: dict[int, float] = {}
    for line in output.splitlines():
        if line.startswith("#") and " DONE " in line:
            number, _, rest = line[1:].partition(" DONE ")
            try:
                seconds[int(number)] = float(rest.strip().rstrip("s"))
            except ValueError:
                continue
    return [(step.name, step.status, seconds.get(step.number)) for step in docker_engine.parse_build_steps(output)]


# --------------------------------------------------------------------------- one measurement


@dataclass
class Build:
    seconds: float
    uncached: list[tuple[str, float | None]] = field(default_factory=list)  # steps that ran, with their time
    contended: bool = False  # another client's docker build ran at some point during this one

    def slowest(self) -> str:
        timed = [(seconds or 0.0, name) for name, seconds in self.uncached]
        if not timed:
            return "every step CACHED"
        seconds, name = max(timed)
        return f"{_short(name)} ({seconds:.1f} s)"


@dataclass
class Measurement:
    case: str
    variant: str
    run: int
    cold: Build | None = None
    size_mb: float | None = None
    size_bytes: int | None = None
    code: Build | None = None
    dep: Build | None = None
    error: str | None = None


def _short(step_name: str, width: int = 70) -> str:
    text = " ".join(step_name.split())
    return text if len(text) <= width else text[: width - 1] + "…"


class Failure(Exception):
    pass


class Bench:
    def __init__(self, cases: list[Case], runs: int, prune: bool, workdir: Path) -> None:
        self.cases = cases
        self.runs = runs
        self.prune = prune
        self.workdir = workdir
        self.tags: set[str] = set()  # every tag built, removed at the end
        self.previous: dict[tuple[str, str], list[str]] = {}  # (case, variant) -> tags of its last run
        self.tool_dockerfiles: dict[str, Path] = {}
        self.notes: list[str] = []

    # ----- the tool's output, once per case

    def make_tool_dockerfile(self, case: Case) -> Path:
        copy = self.workdir / "tool-input" / case.name
        shutil.copytree(case.project, copy, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
        output = self.workdir / "tool-output" / f"{case.name}.Dockerfile"
        output.parent.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "poetry_docker_fix",
            *case.options,
            "-q",
            "-o",
            str(output),
            str(copy / "Dockerfile"),
        ]
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        if completed.returncode != 0 or not output.is_file():
            raise SystemExit(
                f"build_benchmark: poetry-docker-fix failed on {case.name} (exit {completed.returncode}): "
                f"{completed.stderr.strip()}"
            )
        expected = case.project / "expected.Dockerfile"
        if expected.is_file() and expected.read_bytes() != output.read_bytes():
            self.notes.append(f"{case.name}: the tool's output differs from golden expected.Dockerfile")
        return output

    # ----- a fresh copy of the case to build in

    def prepare_context(self, case: Case, variant: str, run: int) -> tuple[Path, Path]:
        context = self.workdir / f"run{run}" / case.name / variant
        shutil.copytree(case.project, context, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
        name = DOCKERFILE_COPY.format(variant=variant)
        ignore = context / ".dockerignore"
        existing = ignore.read_text(encoding="utf-8") if ignore.is_file() else ""
        if existing and not existing.endswith("\n"):
            existing += "\n"
        ignore.write_text(existing + name + "\n", encoding="utf-8")
        source = {
            "naive": case.project / "Dockerfile",
            "human": case.human_dockerfile,
            "tool": self.tool_dockerfiles.get(case.name),
        }[variant]
        dockerfile = docker_engine.copy_dockerfile_for_build(source, context / name)
        return context, dockerfile

    # ----- building and checking

    def build(self, context: Path, dockerfile: Path, tag: str, *, no_cache: bool = False) -> Build:
        self.tags.add(tag)
        wait_for_quiet_engine(tag)
        with ContentionMonitor(tag) as monitor:
            start = time.perf_counter()
            result = docker_engine.build_image(
                context,
                dockerfile,
                tag,
                timeout=BUILD_TIMEOUT_SECONDS,
                extra_args=["--no-cache"] if no_cache else [],
            )
            elapsed = time.perf_counter() - start
        contended = monitor.seen
        if not result.ok:
            raise Failure(f"docker build of {dockerfile.name} failed (exit {result.returncode}):\n{result.tail(25)}")
        uncached = [(name, seconds) for name, status, seconds in step_durations(result.output) if status != "CACHED"]
        return Build(elapsed, uncached, contended)

    def check_output(self, case: Case, tag: str, what: str) -> None:
        run = docker_engine.run_image(tag)
        if run.returncode != 0 or run.stdout.rstrip("\n") != case.expected_stdout:
            raise Failure(
                f"{what}: the image printed {run.stdout.strip()!r} (exit {run.returncode}), "
                f"expected {case.expected_stdout!r}; stderr: {run.stderr.strip()[-400:]}"
            )

    def check_new_distributions(self, case: Case, variant: str, tag: str) -> None:
        code = "import importlib.metadata as m, sys; print(' '.join(m.version(d) for d in sys.argv[1:]))"
        for distribution in case.new_distributions:
            if variant == "naive":  # the venv is Poetry's own, found from the image's WORKDIR
                run = run_with_entrypoint(tag, "poetry", ["run", "python", "-c", code, distribution])
            else:
                run = run_with_entrypoint(tag, "python", ["-c", code, distribution])
            if run.returncode != 0:
                raise Failure(
                    f"dependency change: {distribution} is not installed in the rebuilt image: "
                    f"{run.stderr.strip()[-400:]}"
                )

    def measure(self, case: Case, variant: str, run: int) -> Measurement:
        """Measure once; a measurement cut short by a lost Docker daemon is repeated once it is back."""
        for _attempt in range(3):
            measurement = self.measure_once(case, variant, run)
            if not (measurement.error and any(sign in measurement.error for sign in DAEMON_LOST)):
                return measurement
            self.notes.append(f"{case.name} / {variant} / run {run}: the Docker daemon went away; measured again")
            if not wait_for_daemon():
                return measurement
        return measurement

    def measure_once(self, case: Case, variant: str, run: int) -> Measurement:
        measurement = Measurement(case.name, variant, run)
        docker_engine.remove_images(self.previous.pop((case.name, variant), []))
        repository = docker_engine.unique_repository(f"{case.name}-{variant}", prefix="pdf-bench")
        tags = [f"{repository}:{step}" for step in ("cold", "code", "dep")]
        self.previous[(case.name, variant)] = tags
        try:
            context, dockerfile = self.prepare_context(case, variant, run)
            if self.prune:
                prune_cache_mounts()
            measurement.cold = self.build(context, dockerfile, tags[0], no_cache=True)
            self.check_output(case, tags[0], "cold build")
            measurement.size_bytes = docker_engine.image_size(tags[0])
            measurement.size_mb = measurement.size_bytes / 1e6

            source = docker_engine.pick_source_file(context, tomllib.loads((context / "pyproject.toml").read_text()))
            if source is None:
                raise Failure("no Python source file to change")
            docker_engine.touch_source_file(source, f"# benchmark code change {secrets.token_hex(8)}")
            measurement.code = self.build(context, dockerfile, tags[1])
            self.check_output(case, tags[1], "code-change rebuild")

            for name in ("pyproject.toml", "poetry.lock"):
                shutil.copyfile(case.depchange / name, context / name)
            # The same pair is swapped in on every run: without bytes new to the build cache, the second run's
            # rebuild would find the first run's layers and install nothing. A TOML comment does not change
            # Poetry's content-hash, so the lock stays fresh.
            with (context / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
                pyproject.write(f"# benchmark dependency change {secrets.token_hex(8)}\n")
            measurement.dep = self.build(context, dockerfile, tags[2])
            self.check_output(case, tags[2], "dependency-change rebuild")
            self.check_new_distributions(case, variant, tags[2])
        except Failure as failure:
            measurement.error = str(failure)
        finally:
            shutil.rmtree(self.workdir / f"run{run}" / case.name / variant, ignore_errors=True)
        return measurement

    def cleanup(self) -> None:
        docker_engine.remove_images(sorted(self.tags))
        self.tags.clear()


# --------------------------------------------------------------------------- summary


def median_of(measurements: list[Measurement], measure: str) -> float | None:
    values = []
    for item in measurements:
        if item.error:
            return None
        if measure == "size":
            values.append(item.size_mb)
        else:
            build = getattr(item, measure)
            values.append(build.seconds if build else None)
    if not values or any(value is None for value in values):
        return None
    return statistics.median(values)


def spread(measurements: list[Measurement], measure: str) -> tuple[float, float] | None:
    """(min, max) over the runs, or None when a run failed."""
    values = []
    for item in measurements:
        if item.error:
            return None
        values.append(item.size_mb if measure == "size" else getattr(item, measure).seconds)
    return (min(values), max(values)) if values else None


def median_run(measurements: list[Measurement], measure: str) -> Measurement | None:
    """The run whose time for ``measure`` is the median (the lower middle one for an even count)."""
    usable = [item for item in measurements if not item.error and getattr(item, measure)]
    if not usable:
        return None
    usable.sort(key=lambda item: getattr(item, measure).seconds)
    return usable[(len(usable) - 1) // 2]


def fmt(value: float | None, unit: str = "s") -> str:
    if value is None:
        return "FAILED"
    if unit == "MB":
        return f"{value:.1f} MB"
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x" if value < 10 else f"{value:.1f}x"


def summarise(
    cases: list[Case],
    results: dict[tuple[str, str], list[Measurement]],
    *,
    runs: int,
    prune: bool,
    elapsed: float,
    engine: str,
    notes: list[str],
    finished: str,
) -> tuple[str, dict]:
    medians = {
        (case.name, variant): {measure: median_of(results[(case.name, variant)], measure) for measure in MEASURES}
        for case in cases
        for variant in VARIANTS
    }
    lines: list[str] = []
    add = lines.append
    add("# Build benchmark: naive vs careful human vs poetry-docker-fix")
    add("")
    add(
        f"Median of {runs} run(s) per cell; {finished} UTC; {engine}; "
        f"{platform.machine()}, {_cpu_count()} cores; whole run {elapsed / 60:.1f} min."
    )
    mounts = (
        "BuildKit cache mounts **pruned before every cold build** (`docker builder prune -f --filter "
        "type=exec.cachemount`): cold builds download every package"
        if prune
        else "BuildKit cache mounts **kept warm** across cold builds (favours human and tool, which use one)"
    )
    add(f"Cold build = `docker build --no-cache` after removing the variant's previous images; {mounts}.")
    add(
        "Rebuilds use the build cache and the cache mounts the cold build filled. Times are wall-clock seconds "
        "of the whole `docker build`. Dependency change = the pyproject.toml + poetry.lock pair of "
        "`bench/projects/<case>-depchange/` (adds `tabulate`, other pins unchanged) swapped in."
    )
    add("")
    add("| case | variant | cold build | image size | code-change rebuild | dependency-change rebuild |")
    add("| --- | --- | ---: | ---: | ---: | ---: |")
    for case in cases:
        for variant in VARIANTS:
            cell = medians[(case.name, variant)]
            items = results[(case.name, variant)]
            cells = []
            for measure in ("cold", "size", "code", "dep"):
                text = fmt(cell[measure], "MB" if measure == "size" else "s")
                low_high = spread(items, measure)
                if low_high and runs > 1 and measure != "size":
                    text += f" <sub>({low_high[0]:.2f}–{low_high[1]:.2f})</sub>"
                cells.append(text)
            add(f"| {case.name} | {variant} | " + " | ".join(cells) + " |")
    add("")
    add("Small figures in brackets: the fastest and slowest of the runs.")
    add("")
    add("## Ratios")
    add("")
    add(
        "naive/tool and human/tool: how many times smaller or faster the tool's output is "
        "(above 1: the tool wins; below 1: it loses)."
    )
    add("")
    add(
        "| case | size naive/tool | code rebuild naive/tool | dep rebuild naive/tool | cold naive/tool | "
        "size human/tool | code rebuild human/tool | dep rebuild human/tool | cold human/tool |"
    )
    add("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    ratios: dict[str, dict[str, float | None]] = {}
    for case in cases:
        naive, human, tool = (medians[(case.name, variant)] for variant in VARIANTS)
        row = {}
        for against_name, against in (("naive", naive), ("human", human)):
            for measure in ("size", "code", "dep", "cold"):
                row[f"{measure} {against_name}/tool"] = ratio(against[measure], tool[measure])
        ratios[case.name] = row
        add(
            f"| {case.name} | "
            + " | ".join(
                fmt_ratio(row[f"{measure} {against}/tool"])
                for against in ("naive", "human")
                for measure in ("size", "code", "dep", "cold")
            )
            + " |"
        )
    add("")
    add("## Goals")
    add("")
    add(
        "| case | tool ≥ 3x smaller than naive | tool ≥ 20x faster code rebuild than naive | tool ≤ human size "
        "| tool ≤ human code rebuild | tool ≤ human dep rebuild | tool ≤ human cold build |"
    )
    add("| --- | --- | --- | --- | --- | --- | --- |")
    for case in cases:
        row = ratios[case.name]
        human_items = results[(case.name, "human")]
        tool_median = medians[(case.name, "tool")]
        checks = [
            _goal(row["size naive/tool"], 3.0),
            _goal(row["code naive/tool"], 20.0),
            _size_goal(results[(case.name, "human")], results[(case.name, "tool")]),
            *(
                _goal(row[f"{measure} human/tool"], 1.0, tool_median[measure], spread(human_items, measure))
                for measure in ("code", "dep", "cold")
            ),
        ]
        add(f"| {case.name} | " + " | ".join(checks) + " |")
    add("")
    add(
        "Against the human: *met* when the tool's median is not above the human's; *tie* when it is above but "
        "inside the range of the human's own runs (run-to-run noise); *NOT met* otherwise. Sizes are compared "
        "in bytes: a tool image a few kB larger holds the project's own metadata (its dist-info and .pth, from "
        "`poetry install --only-root`), which the article's Dockerfile leaves out."
    )
    add("")
    add("## Where the time goes (slowest step that ran, in the median run)")
    add("")
    add("| case | variant | cold build | code-change rebuild | dependency-change rebuild | contended runs |")
    add("| --- | --- | --- | --- | --- | --- |")
    for case in cases:
        for variant in VARIANTS:
            cells = []
            for measure in ("cold", "code", "dep"):
                chosen = median_run(results[(case.name, variant)], measure)
                cells.append("FAILED" if chosen is None else getattr(chosen, measure).slowest().replace("|", "\\|"))
            items = [item for item in results[(case.name, variant)] if not item.error]
            cells.append(
                "/".join(
                    str(sum(1 for item in items if getattr(item, m) and getattr(item, m).contended))
                    for m in ("cold", "code", "dep")
                )
                + f" of {len(items)}"
            )
            add(f"| {case.name} | {variant} | " + " | ".join(cells) + " |")
    builds = [
        getattr(item, measure)
        for items in results.values()
        for item in items
        for measure in ("cold", "code", "dep")
        if getattr(item, measure)
    ]
    contended = sum(1 for build in builds if build.contended)
    add("")
    add(
        f"Other clients' `docker build`s (other sessions sharing this engine and its 2 cores) ran during "
        f"{contended} of the {len(builds)} timed builds (polled every 0.2 s), although each build first waited up "
        f"to {QUIET_WAIT_SECONDS} s for the engine to be quiet; those times may be inflated. The last column "
        f"above counts them per cell (cold/code/dep, out of the runs); build.json marks each one."
    )
    failures = [item for items in results.values() for item in items if item.error]
    if failures or notes:
        add("")
        add("## Problems")
        add("")
        for note in notes:
            add(f"- {note}")
        for item in failures:
            first = item.error.strip().splitlines()[0]
            add(f"- {item.case} / {item.variant} / run {item.run}: {first}")
    add("")
    add("Reproduce: `/work/devvenv/bin/python bench/build_benchmark.py " + _command_line(runs, cases, prune) + "`")
    return "\n".join(lines) + "\n", {"medians": {f"{c}/{v}": m for (c, v), m in medians.items()}, "ratios": ratios}


def _goal(
    value: float | None,
    threshold: float,
    tool_median: float | None = None,
    human_spread: tuple[float, float] | None = None,
) -> str:
    if value is None:
        return "n/a"
    if value >= threshold:
        verdict = "met"
    elif tool_median is not None and human_spread is not None and tool_median <= human_spread[1]:
        verdict = "tie"
    else:
        verdict = "**NOT met**"
    return f"{verdict} ({fmt_ratio(value)})"


def _size_goal(human: list[Measurement], tool: list[Measurement]) -> str:
    human_sizes = [item.size_bytes for item in human if item.size_bytes]
    tool_sizes = [item.size_bytes for item in tool if item.size_bytes]
    if not human_sizes or not tool_sizes:
        return "n/a"
    difference = statistics.median(tool_sizes) - statistics.median(human_sizes)
    verdict = "met" if difference <= 0 else "**NOT met**"
    share = difference / statistics.median(human_sizes)
    return f"{verdict} (tool {difference / 1e3:+.1f} kB, {share:+.4%})"


def _command_line(runs: int, cases: list[Case], prune: bool) -> str:
    parts = [f"--runs {runs}", "--cases " + ",".join(case.name for case in cases)]
    if not prune:
        parts.append("--cold-cache-mounts keep")
    return " ".join(parts)


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 0


# --------------------------------------------------------------------------- chart


def draw_chart(cases: list[Case], medians: dict[str, dict[str, float | None]], path: Path, subtitle: str) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return f"matplotlib is not installed: chart {path.name} skipped (pip install matplotlib)"
    colours = {"naive": "#c44e52", "human": "#8c8c8c", "tool": "#4c72b0"}
    figure, axes = plt.subplots(2, 2, figsize=(14, 9))
    width = 0.26
    positions = range(len(cases))
    for axis, measure in zip(axes.flat, ("size", "cold", "code", "dep")):
        log_scale = measure in ("code", "dep")
        for index, variant in enumerate(VARIANTS):
            values = [medians[f"{case.name}/{variant}"][measure] for case in cases]
            xs = [position + (index - 1) * width for position in positions]
            heights = [value if value is not None else 0 for value in values]
            if log_scale:  # bars start at the floor of the axis
                heights = [max(height, LOG_FLOOR_SECONDS * 1.05) for height in heights]
            bars = axis.bar(xs, heights, width, label=variant, color=colours[variant])
            for bar, value in zip(bars, values):
                label = (
                    "FAILED"
                    if value is None
                    else (
                        f"{value:.0f}"
                        if measure == "size" or value >= 10
                        else f"{value:.2g}"
                        if log_scale
                        else f"{value:.1f}"
                    )
                )
                axis.annotate(
                    label,
                    (bar.get_x() + bar.get_width() / 2, bar.get_height() if value else 0),
                    xytext=(0, 2),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=8,
                )
        axis.set_title(
            MEASURE_TITLES[measure] + (f" — log scale, from {LOG_FLOOR_SECONDS:g} s" if log_scale else ""),
            fontsize=11,
        )
        axis.set_xticks(list(positions))
        axis.set_xticklabels([case.name.replace("-", "-\n", 1) for case in cases], fontsize=9)
        axis.set_ylabel("MB" if measure == "size" else "seconds")
        highest = max((medians[f"{case.name}/{v}"][measure] or 0) for case in cases for v in VARIANTS) or 1
        if log_scale:
            from matplotlib.ticker import FuncFormatter, NullFormatter

            axis.set_yscale("log")
            axis.set_ylim(LOG_FLOOR_SECONDS, highest * 3)
            axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            axis.yaxis.set_minor_formatter(NullFormatter())
        else:
            axis.set_ylim(0, highest * 1.15)
        axis.grid(axis="y", alpha=0.3)
    axes.flat[0].legend(loc="upper center", ncol=3)
    figure.suptitle("poetry-docker-fix build benchmark (median per cell)\n" + subtitle, fontsize=12)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return f"chart written to {path}"


# --------------------------------------------------------------------------- main


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="runs per case and variant (the median is reported); default 3"
    )
    parser.add_argument(
        "--cases", default=",".join(DEFAULT_CASES), help="comma-separated case names; default: %(default)s"
    )
    parser.add_argument(
        "--cold-cache-mounts",
        choices=("prune", "keep"),
        default="prune",
        help="empty BuildKit's cache mounts before each cold build (default) or keep them warm",
    )
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="folder for build.md, build.json, build.png")
    parser.add_argument(
        "--from-json",
        type=Path,
        metavar="BUILD_JSON",
        help="build nothing: write build.md and build.png again from the raw numbers of an earlier run",
    )
    arguments = parser.parse_args(argv)
    if arguments.runs < 1:
        parser.error("--runs must be at least 1")
    return arguments


def load_raw(path: Path) -> tuple[list[Case], dict[tuple[str, str], list[Measurement]], dict]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    cases = [load_case(name) for name in raw["cases"]]
    results: dict[tuple[str, str], list[Measurement]] = {(case.name, v): [] for case in cases for v in VARIANTS}
    for item in raw["measurements"]:
        builds = {
            measure: Build(
                item[measure]["seconds"],
                [tuple(step) for step in item[measure]["uncached"]],
                item[measure].get("contended", False),
            )
            if item.get(measure)
            else None
            for measure in ("cold", "code", "dep")
        }
        results[(item["case"], item["variant"])].append(Measurement(**{**item, **builds}))
    return cases, results, raw


def save_raw(
    folder: Path,
    cases: list[Case],
    results: dict[tuple[str, str], list[Measurement]],
    *,
    runs: int,
    mode: str,
    elapsed: float,
    engine: str,
    notes: list[str],
    summary: dict | None = None,
    finished: str = "",
) -> None:
    """Write build.json: every measurement so far (also called after each one, so a cut-short run keeps its data)."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = {
        "engine": engine,
        "runs": runs,
        "cases": [case.name for case in cases],
        "cold_cache_mounts": mode,
        "elapsed_seconds": round(elapsed, 1),
        "finished": finished,
        "complete": summary is not None,
        "notes": notes,
        "measurements": [asdict(item) for items in results.values() for item in items],
        **(summary or {}),
    }
    (folder / "build.json").write_text(json.dumps(raw, indent=1) + "\n", encoding="utf-8")


def write_outputs(
    cases: list[Case],
    results: dict[tuple[str, str], list[Measurement]],
    *,
    runs: int,
    mode: str,
    elapsed: float,
    engine: str,
    notes: list[str],
    folder: Path,
    write_json: bool,
    finished: str,
) -> int:
    prune = mode == "prune"
    markdown, summary = summarise(
        cases, results, runs=runs, prune=prune, elapsed=elapsed, engine=engine, notes=notes, finished=finished
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "build.md").write_text(markdown, encoding="utf-8")
    if write_json:
        save_raw(
            folder,
            cases,
            results,
            runs=runs,
            mode=mode,
            elapsed=elapsed,
            engine=engine,
            notes=notes,
            summary=summary,
            finished=finished,
        )
    print()
    print(markdown)
    subtitle = f"{runs} run(s); cache mounts {'pruned' if prune else 'kept warm'} before cold builds"
    print(draw_chart(cases, summary["medians"], folder / "build.png", subtitle))
    return 1 if any(item.error for items in results.values() for item in items) else 0


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    if arguments.from_json:
        cases, results, raw = load_raw(arguments.from_json)
        return write_outputs(
            cases,
            results,
            runs=raw["runs"],
            mode=raw["cold_cache_mounts"],
            elapsed=raw["elapsed_seconds"],
            engine=raw["engine"],
            notes=raw.get("notes", []),
            folder=arguments.results,
            write_json=False,
            finished=raw.get("finished")
            or f"{datetime.fromtimestamp(arguments.from_json.stat().st_mtime, timezone.utc):%Y-%m-%d %H:%M}",
        )
    available, engine = docker_engine.docker_available()
    if not available:
        print(f"build_benchmark: {engine}", file=sys.stderr)
        return 2
    cases = [load_case(name.strip()) for name in arguments.cases.split(",") if name.strip()]
    prune = arguments.cold_cache_mounts == "prune"
    results: dict[tuple[str, str], list[Measurement]] = {(case.name, v): [] for case in cases for v in VARIANTS}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pdf-build-bench-") as temporary:
        bench = Bench(cases, arguments.runs, prune, Path(temporary))
        try:
            for case in cases:
                bench.tool_dockerfiles[case.name] = bench.make_tool_dockerfile(case)
            for run in range(1, arguments.runs + 1):
                for case in cases:
                    for variant in VARIANTS:
                        item = bench.measure(case, variant, run)
                        results[(case.name, variant)].append(item)
                        print(_progress(item, time.perf_counter() - started), flush=True)
                        save_raw(
                            arguments.results,
                            cases,
                            results,
                            runs=arguments.runs,
                            mode=arguments.cold_cache_mounts,
                            elapsed=time.perf_counter() - started,
                            engine=engine,
                            notes=bench.notes,
                        )
        finally:
            bench.cleanup()
    elapsed = time.perf_counter() - started
    return write_outputs(
        cases,
        results,
        runs=arguments.runs,
        mode=arguments.cold_cache_mounts,
        elapsed=elapsed,
        engine=engine,
        notes=bench.notes,
        folder=arguments.results,
        write_json=True,
        finished=f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M}",
    )


def _progress(item: Measurement, elapsed: float) -> str:
    head = f"[{elapsed / 60:5.1f} min] run {item.run} {item.case} / {item.variant}:"
    if item.error:
        return f"{head} FAILED: {item.error}"
    return (
        f"{head} cold {item.cold.seconds:.1f} s, {item.size_mb:.0f} MB, code {item.code.seconds:.2f} s, "
        f"dep {item.dep.seconds:.1f} s"
    )


if __name__ == "__main__":
    sys.exit(main())
