"""Fetch the pinned Kafka and Apicurio Registry artifacts from Maven Central into a cache.

Uses ``mvn`` with the pinned poms beside this module. Idempotent: a cache entry is complete
only once its marker file exists, so an interrupted download is redone, never half-used.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

from courtbus.errors import StackError

POMS = Path(__file__).parent / "poms"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
_MARKER = ".complete"
_MVN_TIMEOUT_S = 900


def default_cache_dir() -> Path:
    """``$COURTBUS_CACHE``, else ``$XDG_CACHE_HOME/courtbus``, else ``~/.cache/courtbus``."""
    if env := os.environ.get("COURTBUS_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "courtbus"


def pom_property(pom: Path, name: str) -> str:
    """Read one ``<properties>`` value from a pinned pom (the version we run)."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(pom).getroot().find(f"m:properties/m:{name}", ns)
    if node is None or not node.text:
        raise StackError(f"{pom}: property {name} is missing")
    return node.text.strip()


def require_tool(name: str) -> str:
    """Return the path of a required executable.

    Raises:
        StackError: ``STACK_TOOL_MISSING`` naming the tool and how to get it.
    """
    path = shutil.which(name)
    if path is None:
        hint = (
            "install OpenJDK 17+ (Kafka; the schema registry needs 21+)"
            if name == "java"
            else "install Apache Maven 3.8+"
        )
        raise StackError(f"`{name}` not found on PATH: {hint}", code="STACK_TOOL_MISSING")
    return path


def _copy_dependencies(pom: Path, target: Path, *extra: str) -> None:
    mvn = require_tool("mvn")
    cmd = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(pom),
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        f"-DoutputDirectory={target}",
        *extra,
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_MVN_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise StackError(
            f"mvn did not finish within {_MVN_TIMEOUT_S}s fetching {pom.name}",
            code="STACK_DOWNLOAD_FAILED",
        ) from exc
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "ERROR" in ln]
        first = lines[0].strip() if lines else f"exit code {proc.returncode}"
        raise StackError(f"mvn could not fetch {pom.name}: {first}", code="STACK_DOWNLOAD_FAILED")


def ensure_kafka(cache: Path, pom: Path = POMS / "kafka.xml") -> Path:
    """Return a folder holding every jar of the pinned Kafka broker and tools.

    Raises:
        StackError: ``STACK_TOOL_MISSING`` or ``STACK_DOWNLOAD_FAILED``.
    """
    target = cache / f"kafka-{pom_property(pom, 'kafka.version')}"
    if (target / _MARKER).exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    _copy_dependencies(pom, target, "-DincludeScope=runtime")
    (target / _MARKER).touch()
    return target


def ensure_registry(cache: Path) -> Path:
    """Return the unpacked Apicurio Registry folder (holding ``quarkus-run.jar``).

    Raises:
        StackError: ``STACK_TOOL_MISSING`` or ``STACK_DOWNLOAD_FAILED``.
    """
    pom = POMS / "registry.xml"
    target = cache / f"apicurio-registry-{pom_property(pom, 'apicurio.version')}"
    if (target / _MARKER).exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    download = target.with_name(target.name + ".download")
    shutil.rmtree(download, ignore_errors=True)
    download.mkdir(parents=True)
    _copy_dependencies(pom, download, "-DexcludeTransitive=true")
    archives = list(download.glob("*.tar.gz"))
    if len(archives) != 1:
        raise StackError(
            f"expected one registry archive in {download}, found {len(archives)}",
            code="STACK_DOWNLOAD_FAILED",
        )
    target.mkdir(parents=True)
    with tarfile.open(archives[0]) as tar:
        tar.extractall(target, filter="data")
    if not (target / "quarkus-run.jar").exists():
        raise StackError(
            f"{archives[0].name} holds no quarkus-run.jar", code="STACK_DOWNLOAD_FAILED"
        )
    shutil.rmtree(download)
    (target / _MARKER).touch()
    return target


REGISTRY_MIN_JAVA = 21  # Apicurio Registry 3.3 is compiled for Java 21 (class file 65)


def java_major(java: str) -> int | None:
    """The major version of a ``java`` executable, or None if it does not run."""
    try:
        out = subprocess.run(
            [java, "-XshowSettings:properties", "-version"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.splitlines():
        if "java.specification.version" in line:
            value = line.split("=", 1)[1].strip()
            return int(value.split(".")[-1] if value.startswith("1.") else value)
    return None


def find_java(min_major: int) -> str:
    """Find a ``java`` of at least ``min_major``.

    Looks at ``$COURTBUS_REGISTRY_JAVA_HOME``, ``$JAVA_HOME``, ``java`` on PATH, then every
    JDK under ``/usr/lib/jvm``.

    Raises:
        StackError: ``STACK_TOOL_MISSING`` if none is new enough.
    """
    candidates: list[str] = []
    for env in ("COURTBUS_REGISTRY_JAVA_HOME", "JAVA_HOME"):
        if home := os.environ.get(env):
            candidates.append(str(Path(home) / "bin" / "java"))
    if on_path := shutil.which("java"):
        candidates.append(on_path)
    jvm = Path("/usr/lib/jvm")
    if jvm.is_dir():
        candidates += sorted((str(p) for p in jvm.glob("*/bin/java")), reverse=True)
    for java in candidates:
        major = java_major(java)
        if major is not None and major >= min_major:
            return java
    raise StackError(
        f"the schema registry needs Java {min_major}+ and none was found (looked at "
        "$COURTBUS_REGISTRY_JAVA_HOME, $JAVA_HOME, PATH and /usr/lib/jvm); install one, e.g. "
        f"`apt-get install openjdk-{min_major}-jre-headless`, or set COURTBUS_REGISTRY_JAVA_HOME",
        code="STACK_TOOL_MISSING",
    )
