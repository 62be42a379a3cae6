"""Containers of the image run with buildah (no Docker engine): made, run, stopped, removed."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import processes

ROOT = Path(__file__).parents[3]
# Why the container tests are skipped where they are (`make test` installs buildah first).
NO_BUILDAH = (
    "buildah is not installed: `make image-tools` (as root) installs buildah, mmdebstrap and "
    "podman from Debian's packages; `make test` does so before the tests"
)


def have_buildah() -> bool:
    return shutil.which("buildah") is not None


def buildah(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """One buildah command; a failure raises with what buildah said."""
    done = subprocess.run(  # noqa: S603 - buildah with our own arguments
        ["buildah", *args],  # noqa: S607 - found on PATH, as an operator would run it
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"buildah {' '.join(args)}: {done.stderr.strip()[-2000:]}")
    return done


def build_image() -> str:
    """The image of this tree (deploy/image.sh builds it, or reuses one built from the same
    inputs), or FSI_TEST_IMAGE when given: to run these tests against another image."""
    given = os.environ.get("FSI_TEST_IMAGE")
    if given:
        return given
    done = subprocess.run(  # noqa: S603 - the project's own script
        ["bash", str(ROOT / "deploy" / "image.sh")],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"deploy/image.sh failed:\n{done.stderr[-4000:]}")
    return done.stdout.strip().splitlines()[-1]


def image_config(image: str) -> dict[str, Any]:
    """The image's Docker-format configuration (User, Env, Healthcheck, Cmd, Labels)."""
    inspected = json.loads(buildah("inspect", "--type", "image", image).stdout)
    config: dict[str, Any] = inspected["Docker"]["config"]
    return config


def _children() -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # ended while we looked
        # The command name is in parentheses and may hold spaces: the fields follow it.
        ppid = int(text.rpartition(")")[2].split()[1])
        found.setdefault(ppid, []).append(int(stat.parent.name))
    return found


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, nearest first."""
    children, found, todo = _children(), [], [pid]
    while todo:
        below = children.get(todo.pop(0), [])
        found += below
        todo += below
    return found


def uids(pid: int) -> tuple[int, ...]:
    """The real, effective, saved and file-system uid of a process (/proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return tuple(int(n) for n in line.split()[1:])
    raise AssertionError(f"no Uid line for process {pid}")


@dataclass
class Container:
    """A working container of the image; each `run` is a process of it on the host's
    network (so 127.0.0.1 is the local PostgreSQL and RabbitMQ), chroot-isolated."""

    image: str
    log_dir: Path
    name: str = field(default_factory=lambda: f"fsi-test-{uuid.uuid4().hex[:12]}")
    started: list[Service] = field(default_factory=list)

    def __post_init__(self) -> None:
        buildah("from", "--name", self.name, self.image)

    def _command(
        self, command: tuple[str, ...], env: dict[str, str], volumes: dict[Path, str]
    ) -> list[str]:
        args = ["buildah", "run", "--isolation", "chroot", "--network", "host"]
        for key, value in env.items():
            args += ["--env", f"{key}={value}"]
        for source, target in volumes.items():
            args += ["--volume", f"{source}:{target}:ro"]
        return [*args, self.name, "--", *command]

    def run(
        self,
        *command: str,
        env: dict[str, str] | None = None,
        volumes: dict[Path, str] | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """A command in the container, to its end."""
        return subprocess.run(  # noqa: S603 - buildah with our own arguments
            self._command(command, env or {}, volumes or {}),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(
        self, *command: str, env: dict[str, str], volumes: dict[Path, str] | None = None
    ) -> Service:
        """A long-running command (a service), its output in a log file of the test's."""
        log_file = self.log_dir / f"{self.name}.{command[0]}.log"
        processes.LOG_FILES.append(log_file)  # checked for personal data with the others
        with log_file.open("ab") as out:
            popen = subprocess.Popen(  # noqa: S603 - buildah with our own arguments
                self._command(command, env, volumes or {}), stdout=out, stderr=out
            )
        service = Service(command[0], popen, log_file)
        self.started.append(service)
        return service

    def changed(self) -> set[str]:
        """The paths added, changed or deleted in the container's file system (podman,
        which shares buildah's storage, compares it with the image's)."""
        if shutil.which("podman") is None:
            raise AssertionError(f"podman is not installed: {NO_BUILDAH}")
        done = subprocess.run(  # noqa: S603 - podman with our own arguments
            ["podman", "diff", self.name],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return {line.split(maxsplit=1)[1] for line in done.stdout.splitlines() if line.strip()}

    def remove(self) -> None:
        for service in self.started:
            service.stop()
        buildah("rm", self.name)


@dataclass
class Service:
    """A service process in a container: `buildah run` on the host and the command below it."""

    command: str
    runner: subprocess.Popen[bytes]
    log_file: Path

    def pid(self, within: float = 10) -> int:
        """The service's own process: its argv names the command, as the argv of buildah's
        `buildah-chroot-exec` above it does too."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for pid in descendants(self.runner.pid):
                try:
                    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                ours = not argv[0].startswith(b"buildah")
                if ours and len(argv) > 1 and argv[1].endswith(b"/" + self.command.encode()):
                    return pid
            time.sleep(0.1)
        raise AssertionError(f"no {self.command} process below buildah run:\n{self.output}")

    def stop(self) -> bool:
        """SIGTERM to the service itself (buildah run ends the command with SIGKILL on one),
        then wait for `buildah run` to end; SIGKILL to both after 20 s. True when the TERM
        alone ended it."""
        if self.runner.poll() is not None:
            return False
        below = descendants(self.runner.pid)
        with contextlib.suppress(AssertionError, ProcessLookupError):
            os.kill(self.pid(within=2), signal.SIGTERM)
        try:
            self.runner.wait(20)
            return True
        except subprocess.TimeoutExpired:
            for pid in [*below, self.runner.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.runner.wait(10)
            return False

    @property
    def output(self) -> str:
        return self.log_file.read_text("utf-8", errors="replace")
