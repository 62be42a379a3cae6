"""fsi-retention without a database: its settings, its command line and its cutoff."""

from __future__ import annotations

import datetime as dt

import pytest

from services.common import settings as fsi_settings
from services.intake import retention


def test_the_period_is_90_days_unless_set() -> None:
    assert fsi_settings.load(retention.RetentionSettings, {}).retention.after_closure_days == 90
    env = {"FSI_RETENTION_AFTER_CLOSURE_DAYS": "0", "FSI_DB_URL": "postgresql://h/db"}
    loaded = fsi_settings.load(retention.RetentionSettings, env)
    assert (loaded.retention.after_closure_days, loaded.db.url) == (0, "postgresql://h/db")


@pytest.mark.parametrize("value", ["-1", "36501", "ten", "1.5", ""])
def test_a_period_that_is_no_whole_number_of_days_in_range_is_refused_by_name(value: str) -> None:
    env = {"FSI_RETENTION_AFTER_CLOSURE_DAYS": value}
    with pytest.raises(fsi_settings.SettingsError, match="FSI_RETENTION_AFTER_CLOSURE_DAYS"):
        fsi_settings.load(retention.RetentionSettings, env)


def test_development_migrates_and_accepts_any_login_production_neither() -> None:
    dev = fsi_settings.load(retention.RetentionSettings, {"FSI_ENVIRONMENT": "development"})
    prod = fsi_settings.load(retention.RetentionSettings, {})
    assert (dev.db.migrate_on_start, prod.db.migrate_on_start) == (True, False)
    assert prod.environment == "production"


def test_the_cutoff_is_whole_days_before_now_in_utc() -> None:
    oslo = dt.timezone(dt.timedelta(hours=1))
    now = dt.datetime(2027, 3, 1, 0, 30, tzinfo=oslo)
    assert retention.cutoff(now, 30) == dt.datetime(2027, 1, 29, 23, 30, tzinfo=dt.UTC)
    assert retention.cutoff(now, 0) == now
    with pytest.raises(ValueError, match="time zone"):
        retention.cutoff(dt.datetime(2027, 3, 1), 1)


def test_the_command_line_erases_with_batches_of_500_by_default() -> None:
    args = retention.parser().parse_args(["erase"])
    assert (args.command, args.dry_run, args.batch) == ("erase", False, 500)
    args = retention.parser().parse_args(["erase", "--dry-run", "--batch", "7"])
    assert (args.dry_run, args.batch) == (True, 7)


@pytest.mark.parametrize(
    ("batch", "said"),
    [("0", "must be 1 to 10000, not 0"), ("10001", "not 10001"), ("many", "not a whole number")],
)
def test_a_batch_out_of_range_is_a_usage_error_saying_why(
    batch: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        retention.parser().parse_args(["erase", "--batch", batch])
    assert exit_.value.code == 2
    assert said in capsys.readouterr().err


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        retention.parser().parse_args([])
    assert exit_.value.code == 2
    assert "erase" in capsys.readouterr().err
