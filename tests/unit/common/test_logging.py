"""Log redaction: no national id, name or description reaches a log line, exceptions included."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import uvicorn

from services.common import logging as fsi_logging
from services.common.settings import LogSettings

NATIONAL_ID = "24869023120"
NAME = "Kari Testesen"
DESCRIPTION = "Sykkelen var låst til stativet utenfor jobben"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    fsi_logging.configure(LogSettings(format="json", level="DEBUG"), stream=stream)
    yield stream
    # Back to the suite's own redacting set-up (tests/conftest.py).
    fsi_logging.configure(LogSettings(format="json", level="INFO"))


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _assert_clean(stream: io.StringIO) -> None:
    text = stream.getvalue()
    assert text, "nothing was logged"
    for secret in (NATIONAL_ID, NATIONAL_ID[:6] + " " + NATIONAL_ID[6:], NAME, DESCRIPTION):
        assert secret not in text


def test_personal_keys_and_id_shaped_numbers_are_redacted(captured: io.StringIO) -> None:
    log = fsi_logging.get_logger("test")
    log.info(
        "report received",
        report_id="3f1c",
        national_id=NATIONAL_ID,
        note=f"person {NATIONAL_ID[:6]} {NATIONAL_ID[6:]} called",
        persons=[{"name": NAME}],
        incident={"description": DESCRIPTION},
    )
    _assert_clean(captured)
    (line,) = _lines(captured)
    assert line["report_id"] == "3f1c"
    assert line["national_id"] == fsi_logging.REDACTED
    assert "[id]" in str(line["note"])


def test_exceptions_are_logged_without_their_message(captured: io.StringIO) -> None:
    log = fsi_logging.get_logger("test")
    try:
        try:
            raise KeyError(NATIONAL_ID)
        except KeyError as inner:
            raise ValueError(f"{NAME}: {DESCRIPTION}") from inner
    except ValueError:
        log.exception("standardisation failed", report_id="r1")
    _assert_clean(captured)
    (line,) = _lines(captured)
    assert "builtins.ValueError" in str(line["exception"])
    assert "builtins.KeyError" in str(line["exception"])
    assert "test_logging.py" in str(line["exception"])


def test_standard_library_loggers_pass_the_same_redaction(captured: io.StringIO) -> None:
    try:
        raise RuntimeError(DESCRIPTION)
    except RuntimeError:
        logging.getLogger("asyncpg.test").exception("query failed: %s", NAME)
    logging.getLogger("uvicorn.error").warning("id %s seen", NATIONAL_ID)
    _assert_clean(captured)
    assert len(_lines(captured)) == 2


def test_structs_bytes_and_source_format_keys_are_redacted(captured: io.StringIO) -> None:
    from schemas.report import Person, Role

    log = fsi_logging.get_logger("test")
    log.info(
        "odd values",
        who=Person(role=Role.VICTIM, national_id=NATIONAL_ID, name=NAME),
        payload=DESCRIPTION.encode(),
        form={
            "fornavn": NAME,
            "beskrivelse": DESCRIPTION,
            "fnr": NATIONAL_ID,
            "tlf": "+4791234567",
        },
    )
    _assert_clean(captured)
    (line,) = _lines(captured)
    assert line["who"] == {"role": "victim", "national_id": "[redacted]", "name": "[redacted]"}
    assert line["payload"] == f"[{len(DESCRIPTION.encode())} bytes]"
    assert "+4791234567" not in captured.getvalue()


def _events(stream: io.StringIO) -> list[object]:
    return [line["event"] for line in _lines(stream)]


def test_uvicorns_start_line_reads_as_written(captured: io.StringIO) -> None:
    # The record uvicorn itself makes (its template "Uvicorn running on %s://%s:%d ...").
    async def app(scope: object, receive: object, send: object) -> None:
        """An ASGI app never called: uvicorn's configuration needs one."""

    config = uvicorn.Config(app, host="127.0.0.1", port=8000, log_config=None)
    config.load()
    uvicorn.Server(config)._log_started_message([])
    assert _events(captured) == ["Uvicorn running on http://127.0.0.1:8000 (Press CTRL+C to quit)"]


def test_the_servers_and_the_frameworks_lines_are_formatted(captured: io.StringIO) -> None:
    # Records of the shape uvicorn's and Litestar's code logs (template, then arguments).
    logging.getLogger("uvicorn.error").info(
        "Started server process [%d]", 4242, extra={"color_message": "Started [%d]"}
    )
    logging.getLogger("uvicorn.error").info("Uvicorn running on unix socket %s", "/run/fsi.sock")
    logging.getLogger("litestar").error("Uncaught exception (connection_type=%s)", "http")
    logging.getLogger("uvicorn.error").warning("id %s seen, %d%% done", NATIONAL_ID, 50)
    assert _events(captured) == [
        "Started server process [4242]",
        "Uvicorn running on unix socket /run/fsi.sock",
        "Uncaught exception (connection_type=http)",
        "id [id] seen, 50% done",
    ]


def test_other_libraries_arguments_are_withheld_in_lines_as_written(
    captured: io.StringIO,
) -> None:
    # aiormq's own line for a returned message quotes the message, body and all.
    body = json.dumps({"persons": [{"name": NAME}], "description": DESCRIPTION})
    logging.getLogger("aiormq.channel").error("Unhandled message %r returning", body.encode())
    logging.getLogger("asyncpg.pool").warning("query with %(n)d args failed", {"n": 2})
    logging.getLogger("asyncpg.connection").warning("parameter $1: %s", NATIONAL_ID)
    logging.getLogger("aio_pika.robust_connection").warning("Connection %r: %5.1f%% of %s", 1, 2, 3)
    logging.getLogger("some.library").info("no arguments, as written: 100%")
    _assert_clean(captured)
    assert _events(captured) == [
        "Unhandled message [withheld] returning",
        "query with [withheld] args failed",
        "parameter $1: [withheld]",
        "Connection [withheld]: [withheld]% of [withheld]",
        "no arguments, as written: 100%",
    ]
    assert all("positional_args" not in line for line in _lines(captured))
