"""The operators' broker scripts of the real inputs (tests/data/real_inputs/*.py.txt), run as
written against the test's broker and under the test's name prefix, and the installed
commands run as an operator runs them."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).parents[1] / "data" / "real_inputs"
# What the scripts were written against: the local broker and the prefix `case3.`.
SCRIPT_URL = "amqp://guest:guest@127.0.0.1:5672/"
SCRIPT_PREFIX = "case3."
BIN = Path(sys.executable).parent  # the installed entry points (.venv/bin)


def run_script(name: str, amqp_url: str, prefix: str, *args: str) -> str:
    """Run one script, its broker URL and queue prefix replaced by the test's; its output."""
    text = (DATA / f"{name}.py.txt").read_text("utf-8")
    text = text.replace(SCRIPT_URL, amqp_url).replace(SCRIPT_PREFIX, prefix)
    done = subprocess.run(  # noqa: S603 - our interpreter, our script
        [sys.executable, "-c", text, *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Answer:
    """What a command said and how it ended."""

    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        """Every non-empty line it wrote, stdout then stderr."""
        return [line for line in (self.out + "\n" + self.err).splitlines() if line.strip()]


def environment(**settings: str) -> dict[str, str]:
    """This process's environment without FSI_ settings, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FSI_")}
    env.update(settings)
    return env


async def command(name: str, *args: str, within: float = 60, **settings: str) -> Answer:
    """Run an installed command (.venv/bin/<name>) to its end, with `FSI_` settings only
    from `settings`."""
    process = await asyncio.create_subprocess_exec(
        str(BIN / name),
        *args,
        env=environment(**settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), within)
    return Answer(process.returncode or 0, out.decode(), err.decode())
