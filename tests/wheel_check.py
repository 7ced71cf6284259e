"""``make wheel-check``: the built wheel works on its own, outside the repository.

Builds the wheel from a copy of the sources, installs it into a new virtualenv in a temporary
folder and runs the smoke commands from another temporary folder, with no ``COURTBUS_*``
variable set and the user's data folder (``XDG_DATA_HOME``) inside the temporary folder:

- ``courtbus --version``, ``directory check``, ``schemas check`` (which must say it used the
  history shipped with the package, since there is no git checkout);
- ``topics plan`` with no broker: one ``BUS_NOT_CONFIGURED`` line, exit 1, no traceback
  (it compares the catalogue with a cluster, so it needs one);
- ``stack up --no-registry`` (one broker from the cached Kafka jars, in the user's data folder),
  then ``topics plan`` against it: every catalogue topic to create; then ``stack down``.

Run from the repository: ``python -m tests.wheel_check`` (``--keep`` keeps the folder). Each run
uses a new temporary folder, so it is idempotent; it takes about half a minute.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from tests.ports import free_block

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "courtbus", "services")


class CheckFailed(Exception):
    """One smoke step did not do what it should."""


def _run(
    args: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None, expect: int = 0
) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    done = subprocess.run(
        list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    shown = " ".join(Path(a).name if i == 0 else a for i, a in enumerate(args))
    print(f"  {shown}  (exit {done.returncode}, {time.monotonic() - started:.1f}s)", flush=True)
    if done.returncode != expect:
        raise CheckFailed(
            f"{shown}: exit {done.returncode}, expected {expect}\n{done.stdout}{done.stderr}"
        )
    return done


def _expect(condition: bool, what: str, done: subprocess.CompletedProcess[str]) -> None:
    if not condition:
        raise CheckFailed(f"{what}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}")


def build_wheel(work: Path) -> Path:
    """The wheel, built by pip from a copy of the sources (an in-tree build would leave a
    ``build/`` folder whose stale files could slip into later wheels)."""
    source = work / "src"
    source.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    dist = work / "dist"
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", str(dist)]
    _run([*pip, str(source)], cwd=work)
    (wheel,) = dist.glob("courtbus-*.whl")
    return wheel


def install(work: Path, wheel: Path) -> Path:
    """A new virtualenv with the wheel and its dependencies; its ``bin`` folder."""
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=work)
    bin_dir = venv / "bin"
    _run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)], cwd=work)
    return bin_dir


def smoke(work: Path, bin_dir: Path) -> None:
    """The commands a partner runs first, from a folder outside the repository."""
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    data_home = work / "xdg-data"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("COURTBUS_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    env.update(XDG_DATA_HOME=str(data_home), PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}")
    courtbus = str(bin_dir / "courtbus")

    where = _run(
        [str(bin_dir / "python"), "-c", "import courtbus; print(courtbus.__file__)"],
        cwd=elsewhere,
        env=env,
    )
    _expect(
        Path(where.stdout.strip()).is_relative_to(work / "venv"), "imported from elsewhere", where
    )
    page = _run(
        [
            str(bin_dir / "python"),
            "-c",
            "from courtbus.web.dashboard import STATIC_DIR as d; "
            "print(sorted(p.name for p in d.iterdir()))",
        ],
        cwd=elsewhere,
        env=env,
    )
    _expect(
        all(f in page.stdout for f in ("index.html", "dashboard.js", "charts.js", "dashboard.css")),
        "the dashboard's page and scripts are in the wheel",
        page,
    )
    version = _run([courtbus, "--version"], cwd=elsewhere, env=env)
    _expect(re.fullmatch(r"courtbus \d+\.\d+\S*\n", version.stdout) is not None, "version", version)
    directory = _run([courtbus, "directory", "check"], cwd=elsewhere, env=env)
    _expect(directory.stdout.startswith("valid"), "directory check says valid", directory)
    schemas = _run([courtbus, "schemas", "check"], cwd=elsewhere, env=env)
    _expect(
        "compatible" in schemas.stdout and "history shipped with the package" in schemas.stdout,
        "schemas check used the shipped history",
        schemas,
    )
    offline = _run([courtbus, "topics", "plan"], cwd=elsewhere, env=env, expect=1)
    _expect(
        offline.stderr.startswith("error BUS_NOT_CONFIGURED:")
        and len(offline.stderr.strip().splitlines()) == 1
        and "Traceback" not in offline.stderr,
        "topics plan without a broker is one BUS_NOT_CONFIGURED line",
        offline,
    )
    base = free_block(2)
    up = _run(
        [courtbus, "stack", "up", "--no-registry", "--port-base", str(base)], cwd=elsewhere, env=env
    )
    try:
        _expect(
            (data_home / "courtbus" / "state.json").is_file(),
            f"the stack lives in the user's data folder, {data_home / 'courtbus'}",
            up,
        )
        plan = _run([courtbus, "topics", "plan"], cwd=elsewhere, env=env)
        _expect(
            re.search(r"^\d+ change\(s\) to apply$", plan.stdout, re.M) is not None,
            "topics plan against the new broker lists the topics to create",
            plan,
        )
    finally:
        _run([courtbus, "stack", "down", "--wipe"], cwd=elsewhere, env=env)


def main(argv: Sequence[str] | None = None) -> int:
    """Build, install, smoke-test; exit 1 with the failing step's output."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="courtbus-wheel-check-"))
    print(f"wheel check in {work}", flush=True)
    try:
        wheel = build_wheel(work)
        smoke(work, install(work, wheel))
    except CheckFailed as exc:
        print(f"wheel check FAILED: {exc}", file=sys.stderr)
        print(f"(kept {work})", file=sys.stderr)
        return 1
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(f"wheel check passed: {wheel.name} in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
