"""fsi-unit's tests: a topology with one unit queue, and the command run as a process of its
own or as `main` in a thread of the test's."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aio_pika
import pytest

from clients.fsi_unit import cli
from services.common.topology import Topology, declare

ROOT = Path(__file__).parents[3]
UNIT = "oslo.vold-og-seksual"


@pytest.fixture
async def channel(
    amqp_url: str, make_topology: Callable[..., Topology]
) -> AsyncIterator[tuple[aio_pika.abc.AbstractChannel, Topology]]:
    topology = make_topology(units=(UNIT,))
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        made = await connection.channel()
        await declare(made, topology)
        yield made, topology


async def fsi_unit(amqp_url: str, prefix: str, *args: str) -> tuple[int, str, str]:
    """Run the command as a unit's system would, in a process of its own."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "clients.fsi_unit.cli",
        *args,
        "--broker-url",
        amqp_url,
        "--prefix",
        prefix,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def in_process(
    capsys: pytest.CaptureFixture[str], amqp_url: str, prefix: str, *args: str
) -> tuple[int, str, str]:
    """The command's `main` in a thread of this process (its own event loop, as the script
    has), so coverage sees it; what it printed."""
    capsys.readouterr()
    argv = [*args, "--broker-url", amqp_url, "--prefix", prefix]
    code = await asyncio.wait_for(asyncio.to_thread(cli.main, argv), timeout=60)
    said = capsys.readouterr()
    return code, said.out, said.err


async def waiting(channel: aio_pika.abc.AbstractChannel, queue: str) -> int:
    declared = await channel.declare_queue(queue, passive=True)
    return declared.declaration_result.message_count or 0
