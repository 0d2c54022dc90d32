"""The image serves the SMART app. No Docker daemon runs the tests, so these read the Dockerfile and
hold it to the Makefile's `web` target, to the path /dtr/ is served from and to the repository."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import PurePosixPath

import pytest

from service.settings import PROJECT_ROOT, Settings

DOCKERFILE = PROJECT_ROOT / "Dockerfile"
DOCKERIGNORE = PROJECT_ROOT / ".dockerignore"
MAKEFILE = PROJECT_ROOT / "Makefile"
# Relative to the project root: where tools/web/build.mjs writes and where the service reads.
WEB_DIST = PurePosixPath(Settings.model_fields["web_dir"].default.relative_to(PROJECT_ROOT))


@dataclass(frozen=True)
class Copy:
    sources: tuple[str, ...]
    destination: PurePosixPath
    from_stage: str | None


@dataclass(frozen=True)
class Stage:
    image: str
    name: str | None
    instructions: tuple[tuple[str, str], ...]

    def runs(self) -> list[str]:
        return [" ".join(args.split()) for keyword, args in self.instructions if keyword == "RUN"]

    def copies(self) -> list[Copy]:
        """COPY instructions, destinations resolved against the WORKDIR in force at each."""
        workdir = PurePosixPath("/")
        found = []
        for keyword, args in self.instructions:
            if keyword == "WORKDIR":
                workdir = workdir / args
            elif keyword == "COPY":
                found.append(_copy(args, workdir))
        return found


def _copy(args: str, workdir: PurePosixPath) -> Copy:
    words = json.loads(args) if args.startswith("[") else shlex.split(args)
    flags = [word.removeprefix("--").split("=", 1) for word in words if word.startswith("--")]
    *sources, destination = [word for word in words if not word.startswith("--")]
    from_stage = next((value for key, value in flags if key == "from"), None)
    return Copy(tuple(sources), workdir / destination, from_stage)


def _instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction: comments dropped, continuation lines joined."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, args = line.strip().partition(" ")
            found.append((keyword.upper(), args.strip()))
    return found


def _stages() -> list[Stage]:
    stages: list[Stage] = []
    for keyword, args in _instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            image, _, name = args.partition(" AS ")
            stages.append(Stage(image.strip(), name.strip() or None, ()))
        else:
            last = stages[-1]
            stages[-1] = Stage(last.image, last.name, (*last.instructions, (keyword, args)))
    return stages


def _node_stage() -> Stage:
    (stage,) = [stage for stage in _stages() if stage.image.startswith("node:")]
    return stage


def _makefile_web_recipe() -> list[str]:
    """The commands that build service/web/dist/ for `make web` (the $(WEB_BUILT) target)."""
    recipe = re.search(r"^\$\(WEB_BUILT\):.*\n((?:\t.*\n)+)", MAKEFILE.read_text(), re.MULTILINE)
    assert recipe, "the Makefile has no $(WEB_BUILT) target"
    return [" ".join(line.split()) for line in recipe.group(1).splitlines()]


def _context_sources() -> list[str]:
    """Every path a COPY takes from the build context (not from another stage)."""
    return [
        source
        for stage in _stages()
        for copy in stage.copies()
        if copy.from_stage is None
        for source in copy.sources
    ]


def test_the_node_stage_builds_the_app_as_make_web_does() -> None:
    runs = _node_stage().runs()
    assert any(run.startswith("npm ci") for run in runs), "the Node stage must install the lockfile"
    assert _makefile_web_recipe(), "the $(WEB_BUILT) target has no recipe"
    for command in _makefile_web_recipe():
        assert command in runs


def test_the_python_stage_copies_the_built_app_to_the_served_path() -> None:
    final = _stages()[-1]
    node = _node_stage()
    assert final.image.startswith("python:"), "the default target must be the service's image"
    copies = final.copies()
    # The project root in the image is where the service package lands (Settings: PROJECT_ROOT).
    (package,) = [copy for copy in copies if copy.sources == ("service",)]
    served = package.destination.parent / WEB_DIST
    (built,) = [copy for copy in copies if copy.from_stage == node.name]
    # build.mjs writes WEB_DIST under its project root, the Node stage's WORKDIR.
    (node_root,) = {copy.destination for copy in node.copies() if "package.json" in copy.sources}
    assert built.sources == (str(node_root / WEB_DIST),)
    assert built.destination == served
    assert copies.index(built) > copies.index(package), "COPY service would cover the built app"


@pytest.mark.parametrize("source", _context_sources())
def test_a_copied_path_exists_in_the_repository(source: str) -> None:
    assert (PROJECT_ROOT / source).exists()


@pytest.mark.parametrize("source", _context_sources())
def test_a_copied_path_is_not_dockerignored(source: str) -> None:
    assert not _dockerignored(source)


def test_the_hosts_own_build_stays_out_of_the_image() -> None:
    """A stale service/web/dist/ on the building machine must not ride in with COPY service."""
    assert _dockerignored(str(WEB_DIST))


def _dockerignored(path: str) -> bool:
    """Docker's rule, for the patterns we use: a path is left out when it or a parent matches."""
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not [pattern for pattern in patterns if pattern.startswith("!")], "exceptions: unchecked"
    parts = PurePosixPath(path).parts
    prefixes = ["/".join(parts[: end + 1]) for end in range(len(parts))]
    return any(
        fnmatch.fnmatchcase(prefix, pattern)
        or fnmatch.fnmatchcase(prefix, pattern.removeprefix("**/"))
        for prefix in prefixes
        for pattern in patterns
    )


def test_the_healthcheck_is_a_command_of_the_service() -> None:
    from service.__main__ import COMMANDS

    final = _stages()[-1]
    (check,) = [args for keyword, args in final.instructions if keyword == "HEALTHCHECK"]
    command = json.loads(check.partition("CMD ")[2])
    assert command[:3] == ["python", "-m", "service"] and command[3] in COMMANDS
    assert command[3:] == ["probe", "live"], "a restart does not bring a database back"
