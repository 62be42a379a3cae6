"""The set-aside outbox rows' command: bad input is answered in one line, exit status 2."""

from __future__ import annotations

import pytest

from services.intake import outbox_cli

REPORT_ID = "6f1c9a52-7c0e-4a1b-9a53-2d1f3f8e3b11"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["put-back"], "one of the arguments report_ids --all is required"),
        (["put-back", "no-such-id"], "not a report id (a UUID): 'no-such-id'"),
        (["put-back", "--all", REPORT_ID], "not allowed with argument --all"),
        (["drop"], "invalid choice: 'drop'"),
    ],
)
def test_bad_arguments_are_named_and_nothing_runs(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        outbox_cli.main(argv)
    assert stopped.value.code == 2
    assert says in capsys.readouterr().err


def test_bad_settings_are_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FSI_DB_POOLER", "statement")
    assert outbox_cli.main(["list"]) == 2
    assert capsys.readouterr().err.startswith("error: invalid setting FSI_DB_POOLER: ")


def test_an_unreachable_database_is_one_line_without_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FSI_DB_URL", "postgresql://fsi:s3cret@127.0.0.1:1/fsi")
    assert outbox_cli.main(["put-back", "--all"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [err.strip()]
    assert err == "error: cannot reach PostgreSQL at 127.0.0.1:1 (FSI_DB_URL): connection refused\n"
    assert "s3cret" not in err
