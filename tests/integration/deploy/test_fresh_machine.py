"""The README's two commands on a fresh Debian machine, for real: a container of Debian's
minbase and make (deploy/fresh-machine.sh), the project copied in, runs `make install` and
`make run`, which install python3, uv, PostgreSQL, RabbitMQ and PgBouncer from the OS and
PyPI; the example report posted with the development key is routed. Then what `make test`
runs before pytest (its prerequisites in the Makefile: `make lint`, the tools the tests
drive) installs the rest and passes; the tests themselves run on the host, as CI runs them.

The container has a network of its own: its processes run in new network, PID and mount
namespaces, with outbound access through slirp4netns and no way to the host's loopback, so
127.0.0.1:5432 and :5672 are free there and the machine's own PostgreSQL and RabbitMQ can
neither be seen nor disturbed. Ending the namespaces' first process ends every process in
them (the services `make run` started included); the container is then removed."""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[3]
# Where the project lies in the container, as a clone in root's home would.
PROJECT = "/root/fsi-intake"
EXAMPLE = ROOT / "schemas" / "examples" / "report.domestic-violence.json"
KEY = "fsi-dev-key-change-me"  # the development client of deploy/clients.dev.yaml
UNIT = "trondelag.vold-naere-relasjoner"  # where deploy/routing/rules.yaml sends the example
# What make services finds missing on the base.
SERVICES = "postgresql rabbitmq-server pgbouncer"
# What make browser and make promtool find missing.
BROWSER = "chromium fonts-liberation nodejs npm"
CHROMIUM, NPM = "chromium fonts-liberation", "nodejs npm"
PROMTOOL = "prometheus"
# make test's prerequisites: what it runs before pytest.
TEST_STEPS = re.compile(r"^test:([^#]*)##", re.MULTILINE)
# A user who is not root, as Debian's minbase has one (util-linux's setpriv is in it too).
AS_NOBODY = "setpriv --reuid=nobody --regid=nogroup --clear-groups"
# A machine that reaches PyPI only through a TLS-inspecting proxy trusts the proxy's CA: the
# container is given the host's bundle (at this path) and the settings that name it.
HOST_CA = "/usr/local/share/fsi-host-ca.crt"
PASSED = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
# A request from inside the container's network (the host's Python in its namespace):
# argv the key, the method and the path, the body on standard input; prints the status and the
# body as JSON.
REQUEST = """
import json, sys, urllib.error, urllib.request
key, method, path = sys.argv[1:]
request = urllib.request.Request(
    "http://127.0.0.1:8000" + path, data=sys.stdin.buffer.read() or None, method=method,
    headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    with opener.open(request, timeout=10) as answer:
        print(json.dumps([answer.status, answer.read().decode()]))
except urllib.error.HTTPError as answer:
    print(json.dumps([answer.code, answer.read().decode()]))
except OSError as error:
    print(json.dumps([0, str(error)]))
"""

# slirp4netns: outbound only, the host's loopback (10.0.2.2) refused.
SLIRP = ("slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback")
# slirp4netns too, which deploy/fresh-machine.sh installs when it makes the base.
MISSING = [tool for tool in ("buildah", "mmdebstrap") if shutil.which(tool) is None]

pytestmark = [
    pytest.mark.container,
    pytest.mark.skipif(
        bool(MISSING),
        reason=f"{' and '.join(MISSING)} not installed: `deploy/fresh-machine.sh --tools` (as "
        "root) installs buildah, mmdebstrap and slirp4netns from Debian's packages; "
        "`make test` installs the first two before the tests",
    ),
    pytest.mark.skipif(os.geteuid() != 0, reason="new network namespaces need root"),
    # Cold: the base from Debian's archive, the OS packages and the Python dependencies.
    pytest.mark.timeout(1800),
]


@dataclass
class FreshMachine:
    """A working container of the fresh base and the namespaces its processes run in."""

    image: str
    log_dir: Path
    name: str = field(default_factory=lambda: f"fsi-fresh-{uuid.uuid4().hex[:12]}")
    init: subprocess.Popen[bytes] | None = None
    slirp: subprocess.Popen[bytes] | None = None
    end: int = -1  # the pipe whose closing ends slirp4netns
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)
    # Seconds each step took, for the summary.
    times: dict[str, float] = field(default_factory=dict)

    def create(self) -> None:
        command("buildah", "from", "--name", self.name, self.image)
        # The files git tracks or would add, as they are in the work tree: a clone of it.
        listed = command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
        names = [name.decode() for name in listed.stdout.split(b"\0") if name]
        files = sorted(name for name in names if (ROOT / name).is_file())
        archive = self.log_dir / "project.tar"
        command("tar", "-cf", str(archive), "--null", "-T", "-", input="\0".join(files).encode())
        command("buildah", "add", "--quiet", self.name, str(archive), PROJECT)

    def enter(self) -> None:
        """The namespaces: their first process reads its standard input, so they end when
        the test closes it, or dies."""
        self.init = subprocess.Popen(
            ["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc", "cat"],  # noqa: S607 - found on PATH, as a person would run it
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
        )
        # TCP and UDP out through the host's sockets (apt, PyPI, DNS).
        # It says on one pipe when it is ready, and ends when the other closes: when the test
        # ends, or dies.
        ready, ready_w = os.pipe()
        end_r, self.end = os.pipe()
        fds = ("--ready-fd", str(ready_w), "--exit-fd", str(end_r))
        with (self.log_dir / "slirp4netns.log").open("ab") as out:
            self.slirp = subprocess.Popen(  # noqa: S603 - our own arguments
                [*SLIRP, *fds, str(self.init.pid), "tap0"],
                pass_fds=(ready_w, end_r),
                stdout=out,
                stderr=out,
            )
        os.close(ready_w)
        os.close(end_r)
        readable, _, _ = select.select([ready], [], [], 30)
        assert readable, "slirp4netns did not configure tap0 in 30 s"
        assert os.read(ready, 1) == b"1", "slirp4netns did not configure tap0"
        os.close(ready)

    def _command(self, script: str) -> list[str]:
        assert self.init is not None
        env = []
        bundle = os.environ.get("SSL_CERT_FILE", "")
        if Path(bundle).is_file():
            env += ["--volume", f"{bundle}:{HOST_CA}:ro"]
            env += [f"--env={name}={HOST_CA}" for name in ("SSL_CERT_FILE", "PIP_CERT")]
        env += [f"--env={name}={os.environ[name]}" for name in PASSED if name in os.environ]
        # nsenter's target is the namespaces' first process, the child of unshare.
        first = Path(f"/proc/{self.init.pid}/task/{self.init.pid}/children").read_text().split()
        return [
            "nsenter", f"--target={first[0]}", "--net", "--pid", "--mount", "--",
            "buildah", "run", "--isolation", "chroot", "--network", "host", *env, self.name,
            "--", "bash", "-c", f"cd {PROJECT} && {script}",
        ]  # fmt: skip

    def run(self, script: str, log: str, timeout: float) -> tuple[int, str]:
        """A shell script in the project's directory to its end: exit status and output.
        The output goes to a file: a daemon it starts may keep a pipe open for ever."""
        path = self.log_dir / log
        with path.open("ab") as out:
            done = command(
                *self._command(script), stdout=out, stderr=out, timeout=timeout, check=False
            )
        return done.returncode, path.read_text("utf-8", errors="replace")

    def start(self, script: str, log: str) -> subprocess.Popen[bytes]:
        """A shell script left running; its output in a file."""
        with (self.log_dir / log).open("ab") as out:
            process = subprocess.Popen(self._command(script), stdout=out, stderr=out)  # noqa: S603 - our own arguments
        self.started.append(process)
        return process

    def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, str]:
        """An HTTP request to the container's 127.0.0.1:8000, from inside its network."""
        assert self.init is not None
        within = ("nsenter", f"--target={self.init.pid}", "--net", "--")
        done = command(*within, sys.executable, "-I", "-c", REQUEST, KEY, method, path, input=body)
        status, text = json.loads(done.stdout)
        return int(status), str(text)

    def remove(self) -> None:
        """Every process of the namespaces, slirp4netns, then the container."""
        if self.init is not None and self.init.poll() is None:
            self.init.kill()  # its child, the namespaces' first process, goes with it
            self.init.wait(30)
        for process in self.started:  # nsenter, whose child was in the namespaces
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait(30)
        if self.slirp is not None:
            os.close(self.end)
            self.slirp.wait(30)
        command("buildah", "rm", self.name, check=False)


def command(*args: str, check: bool = True, **options: Any) -> subprocess.CompletedProcess[bytes]:
    """A command to its end (output captured unless redirected); a failure raises with what
    it said."""
    if "stdout" not in options:
        options["capture_output"] = True
    done = subprocess.run(args, check=False, **{"timeout": 600, "cwd": ROOT, **options})  # noqa: S603 - our own arguments
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args[:6])}: {(done.stderr or b'').decode()[-3000:]}")
    return done


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[FreshMachine]:
    began = time.monotonic()
    done = command("bash", str(ROOT / "deploy" / "fresh-machine.sh"), timeout=900)
    machine = FreshMachine(done.stdout.decode().strip().splitlines()[-1], tmp_path)
    machine.times["base (made, or reused)"] = time.monotonic() - began
    try:
        machine.create()
        machine.enter()
        yield machine
    finally:
        machine.remove()


def test_make_install_and_make_run_on_a_fresh_debian_route_the_example_report(
    fresh: FreshMachine, capsys: pytest.CaptureFixture[str]
) -> None:
    # Not root, in a clone of one's own: nothing is installed, and the command to run as root
    # is said.
    theirs = (
        "rm -rf /tmp/clone && cp -a . /tmp/clone && chown -R nobody: /tmp/clone && cd /tmp/clone"
    )
    for target, packages in (
        ("install", "python3 python3-venv"),
        ("services", SERVICES),
        ("browser", BROWSER),
        ("promtool", PROMTOOL),
    ):
        script = f"{theirs} && {AS_NOBODY} make {target}"
        status, said = fresh.run(script, f"nobody-{target}.log", 300)
        assert status != 0, said
        assert f"sudo apt-get install -y --no-install-recommends {packages}\n" in said, said

    times = fresh.times
    began = time.monotonic()
    status, said = fresh.run("make install", "make-install.log", timeout=900)
    times["make install"] = time.monotonic() - began
    assert status == 0, said[-4000:]
    # Nothing but the base was there: the install step brought python3, its venv and uv.
    assert "installing python3 python3-venv (Debian's packages" in said, said[-4000:]
    assert "installing uv " in said, said[-4000:]

    began = time.monotonic()
    run = fresh.start("exec make run", "make-run.log")
    log = fresh.log_dir / "make-run.log"
    while fresh.request("GET", "/healthz")[0] != 200:
        assert run.poll() is None, f"make run ended:\n{log.read_text()[-6000:]}"
        assert time.monotonic() - began < 900, f"no intake in 900 s:\n{log.read_text()[-6000:]}"
        time.sleep(1)
    times["make run, until the intake answers"] = time.monotonic() - began
    said = log.read_text()
    # The services were not there either: make run installed them and made the cluster's
    # loopback trust the logins.
    assert f"installing {SERVICES} (Debian's packages" in said, said
    assert "main was installed just now: trusting 127.0.0.1 and ::1" in said, said

    began = time.monotonic()
    status, text = fresh.request("POST", "/v1/reports", EXAMPLE.read_bytes())
    assert status == 202, text
    report_id = json.loads(text)["report_id"]
    view: dict[str, Any] = {}
    while view.get("status") != "routed":
        assert time.monotonic() - began < 60, f"not routed in 60 s: {view}\n{log.read_text()}"
        time.sleep(0.5)
        status, text = fresh.request("GET", f"/v1/reports/{report_id}")
        assert status == 200, text
        view = json.loads(text)
    times["posted until routed"] = time.monotonic() - began
    assert view["decision"]["unit"] == UNIT, view
    # In the container's own RabbitMQ, the unit's queue holds the case.
    status, queues = fresh.run(
        "rabbitmqctl --quiet list_queues name messages", "queues.log", timeout=120
    )
    assert status == 0, queues
    assert f"fsi.unit.{UNIT}\t1" in queues, queues

    check_the_test_prerequisites(fresh)

    with capsys.disabled():
        print("\nfresh machine: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))


def check_the_test_prerequisites(fresh: FreshMachine) -> None:
    """`make` of make test's prerequisites, read from the Makefile: lint (kustomize from
    .venv, promtool), the services (running already), the browser and the other tools the
    tests drive, each installed from the OS, the npm packages by Debian's npm."""
    match = TEST_STEPS.search((ROOT / "Makefile").read_text("utf-8"))
    assert match is not None, "no test target in the Makefile"
    steps = match.group(1).split()
    assert {"lint", "browser", "promtool"} <= set(steps), steps
    began = time.monotonic()
    script = f"make {' '.join(steps)} && test -f node_modules/axe-core/axe.min.js"
    status, said = fresh.run(script, "make-test-steps.log", timeout=900)
    fresh.times[f"make {' '.join(steps)}"] = time.monotonic() - began
    assert status == 0, said[-6000:]
    # lint's node-modules (@asyncapi/specs) brings nodejs and npm before browser runs.
    installed = (
        ("make promtool", PROMTOOL),
        ("make node-modules", NPM),
        ("make browser", CHROMIUM),
    )
    for why, packages in installed:
        assert f"installing {packages} (Debian's packages, for {why})" in said, said[-6000:]
    # deploy/validate.py: each check ran (none is skipped: a missing tool fails).
    assert "compose/prometheus.yml: valid (promtool)" in said, said[-6000:]
    assert re.search(r"^k8s/overlays/example: \d+ objects valid$", said, re.MULTILINE), said
