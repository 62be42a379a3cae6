"""RFC 9457 problem details as the intake raises them: a type URI of ours, a title, a detail."""

from __future__ import annotations

from typing import Any

from litestar.plugins.problem_details import ProblemDetailsException

PROBLEM_BASE = "https://fsi-intake.politiet.example/problems/"


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> ProblemDetailsException:
    """An RFC 9457 problem (raised; the problem details plugin renders it)."""
    return ProblemDetailsException(
        status_code=status,
        type_=PROBLEM_BASE + slug,
        title=title,
        detail=detail,
        headers=headers,
        extra=extra or None,
    )


def too_large(limit: int) -> ProblemDetailsException:
    """413: the body (as sent, or once its content coding is undone) passes `limit` bytes."""
    return problem(413, "too-large", "Request body too large", f"at most {limit} bytes")
