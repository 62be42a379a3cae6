"""Service processes of the tests' own: started like production, killed like a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

# Every service log file of the session, for the log capture's check (tests/conftest.py).
LOG_FILES: list[Path] = []


def end(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if it has not stopped within 10 s: a helper process of a test
    (a provider, a pooler) ended whatever state it is in."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


class ServiceProcess:
    """A service started with `python -m <module>` and `FSI_` settings in its environment;
    its output goes to a file beside the test's other files."""

    def __init__(self, module: str, env: dict[str, str], log_file: Path) -> None:
        self.module, self.env, self.log_file = module, env, log_file
        self.process: subprocess.Popen[bytes] | None = None
        LOG_FILES.append(log_file)

    def start(self) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("FSI_")}
        environment.update(self.env)
        # Each line in the file as it is written, so a failing test can quote what was said.
        environment["PYTHONUNBUFFERED"] = "1"
        with self.log_file.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", self.module], env=environment, stdout=out, stderr=out
            )

    def kill(self) -> None:
        """SIGKILL: no clean-up, no goodbye to the broker or the database."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def output(self) -> str:
        return self.log_file.read_text("utf-8", errors="replace")
