"""Which posts of the sign-in forms count as coming from the intake's own pages."""

from __future__ import annotations

import pytest

from services.intake.page_signin import cross_origin

HOST = "ops.example:8000"


@pytest.mark.parametrize(
    "headers",
    [
        {},  # not a browser: no Origin, no Sec-Fetch-Site
        {"origin": "http://ops.example:8000"},
        {"origin": "https://ops.example:8000", "sec-fetch-site": "same-origin"},
        {"origin": "HTTP://OPS.EXAMPLE:8000"},
        {"sec-fetch-site": "same-origin"},
        # A page of ours with `Referrer-Policy: no-referrer` posts its form so.
        {"origin": "null", "sec-fetch-site": "same-origin"},
    ],
)
def test_own_origin(headers: dict[str, str]) -> None:
    assert cross_origin(headers, HOST) is None


def test_default_ports_are_the_same_origin() -> None:
    assert cross_origin({"origin": "https://ops.example"}, "ops.example:443") is None
    assert cross_origin({"origin": "https://ops.example:443"}, "ops.example") is None
    assert cross_origin({"origin": "http://ops.example"}, "ops.example:80") is None


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"origin": "https://attacker.example"}, "Origin"),
        ({"origin": "http://ops.example:8001"}, "Origin"),
        ({"origin": "http://ops.example"}, "Origin"),
        ({"origin": "http://ops.example:8000.attacker.example"}, "Origin"),
        ({"origin": "null"}, "Origin"),
        ({"origin": "file://"}, "Origin"),
        ({"origin": ""}, "Origin"),
        ({"sec-fetch-site": "cross-site"}, "Sec-Fetch-Site"),
        ({"sec-fetch-site": "same-site", "origin": "http://ops.example:8000"}, "Sec-Fetch-Site"),
        ({"sec-fetch-site": "none"}, "Sec-Fetch-Site"),
    ],
)
def test_another_origin(headers: dict[str, str], named: str) -> None:
    assert cross_origin(headers, HOST) == named


def test_no_host_to_compare_with_is_refused_for_a_browser() -> None:
    assert cross_origin({"origin": "http://ops.example:8000"}, None) == "Origin"
