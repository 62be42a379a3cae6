"""Structured logging (structlog) with a redaction step that keeps personal data out.

Every line passes `redact`: values under personal-data keys are replaced, identity-number
shaped digit runs are masked in every string, and exceptions are rendered without their
messages (a message may quote a report), keeping type, file, line and function.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Mapping, MutableMapping
from typing import Any

import msgspec
import structlog

from services.common.settings import LogSettings

REDACTED = "[redacted]"
PERSONAL_KEYS = frozenset(
    {
        # the canonical contract
        "national_id",
        "name",
        "description",
        "address",
        "phone",
        "birth_date",
        "report",
        "persons",
        "person",
        "incident",
        # bodies and credentials
        "body",
        "raw",
        "raw_body",
        "authorization",
        # source formats' own names for the same things
        "fornavn",
        "etternavn",
        "navn",
        "beskrivelse",
        "sammendrag",
        "narrative",
        "fnr",
        "fodselsnummer",
        "fodselsdato",
        "dob",
        "tlf",
        "telefon",
        "adresse",
        "anmelder",
        "mistenkte",
        "vitner",
        "people",
        "involverte",
    }
)
# 11 digits, optionally split 6+5 by a space, dash or dot: fødselsnummer, D- and H-nummer.
# A UUID is matched first and kept: one in 250 random UUIDs ends in 11 digits after a
# letter, and a report id must stay whole in every line about its report.
_ID_LIKE = re.compile(
    r"(?P<uuid>(?<![0-9a-fA-F-])[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"
    r"(?![0-9a-fA-F-]))|(?<!\d)\d{6}[ .-]?\d{5}(?!\d)"
)


def _mask(match: re.Match[str]) -> str:
    return match.group() if match.group("uuid") else "[id]"


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _ID_LIKE.sub(_mask, value)
    if isinstance(value, bytes | bytearray | memoryview):
        return f"[{len(value)} bytes]"
    if isinstance(value, msgspec.Struct):
        # Structs by their fields, so personal fields are found by name, not shown by repr.
        return _scrub(msgspec.to_builtins(value, str_keys=True))
    if isinstance(value, Mapping):
        return {
            k: REDACTED if str(k).lower() in PERSONAL_KEYS else _scrub(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return _scrub(repr(value))


def _safe_traceback(exc: BaseException) -> str:
    lines: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = traceback.extract_tb(current.__traceback__)
        lines.append(f"{type(current).__module__}.{type(current).__qualname__} (message withheld)")
        lines.extend(f'  File "{f.filename}", line {f.lineno}, in {f.name}' for f in frames)
        current = current.__cause__ or current.__context__
    return "\n".join(lines)


def _exception_of(exc_info: Any) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if (
        isinstance(exc_info, tuple)
        and len(exc_info) == 3
        and isinstance(exc_info[1], BaseException)
    ):
        return exc_info[1]
    if exc_info is True:
        return sys.exc_info()[1]
    return None


def redact(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: remove personal data from one log event."""
    exc_info = event_dict.pop("exc_info", None)
    exc = _exception_of(exc_info) if exc_info else None
    if exc is not None:
        event_dict["exception"] = _safe_traceback(exc)
    elif "exception" in event_dict:
        event_dict["exception"] = "(withheld)"
    for key in list(event_dict):
        if key.lower() in PERSONAL_KEYS:
            event_dict[key] = REDACTED
        elif key != "exception":
            event_dict[key] = _scrub(event_dict[key])
    return event_dict


# Standard-library loggers whose lines are printed with their arguments: the server's and
# the framework's carry hosts, ports, process ids, methods and paths (identity-shaped numbers
# are masked there as everywhere). Every other library's arguments are withheld: asyncpg's
# may be SQL parameters, aio-pika's and aiormq's message bodies, and a library not looked at
# here may carry either.
FORMATTED_LOGGERS = frozenset({"uvicorn", "litestar", "fsi"})
WITHHELD = "[withheld]"
# A printf-style conversion of a log template (`%s`, `%(name)r`, `%5.2f`); `%%` is a percent.
_CONVERSION = re.compile(
    r"%(?:\([^)]*\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?[diouxXeEfFgGcrsa%]"
)


def _withheld(template: str) -> str:
    """The template as written, each argument's place shown as withheld."""
    return _CONVERSION.sub(lambda m: "%" if m.group() == "%%" else WITHHELD, template)


def _stdlib_message(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A standard-library record's line: as written, with its arguments for the loggers of
    `FORMATTED_LOGGERS` (the event is the formatted message) and withheld for the others."""
    record = event_dict.get("_record")
    arguments = event_dict.pop("positional_args", ())
    if not isinstance(record, logging.LogRecord):
        return event_dict
    if arguments and record.name.partition(".")[0] not in FORMATTED_LOGGERS:
        event_dict["event"] = _withheld(str(record.msg))
    return event_dict


def configure(settings: LogSettings, stream: Any = None) -> None:
    """Route structlog and the standard library's logging through one redacting pipeline."""
    base: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *base,
            redact,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*base, _stdlib_message, redact],
            pass_foreign_args=True,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.level)
    for noisy in ("aiormq", "aio_pika"):
        logging.getLogger(noisy).setLevel(
            max(logging.WARNING, logging.getLevelName(settings.level))
        )


def get_logger(name: str) -> Any:
    """A logger under the `fsi` namespace."""
    return structlog.get_logger(f"fsi.{name}")
