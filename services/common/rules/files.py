"""The rules and unit catalogue files a process decides with (FSI_RULES_FILE,
FSI_RULES_UNITS_FILE): loaded, stamped to see a change, and named in a start-up error.

The router and the intake load the same files the same way: `load_rules`, then `open_rules`
at start (a `StartupError`, exit 78, naming the setting) and `reload_rules` on a change
(a `RulesError` when the new files cannot replace the running ones)."""

from __future__ import annotations

from pathlib import Path

from schemas import reference
from services.common import startup
from services.common.rules.reading import RulesError
from services.common.rules.ruleset import RuleSet, load_ruleset
from services.common.settings import RulesSettings

# What a file's change is seen by: its modification time (ns) and size, for both files.
Stamp = tuple[tuple[int, int], tuple[int, int]]


def load_rules(settings: RulesSettings) -> RuleSet:
    """The compiled rule set the settings name; `RulesError` or `OSError` naming the file."""
    return load_ruleset(Path(settings.file), Path(settings.units_file), reference.load())


def rules_error(exc: RulesError | OSError, settings: RulesSettings) -> startup.StartupError:
    """A rules or units file that cannot be loaded, naming its setting (exit 78)."""
    units = settings.units_file
    named = exc.filename if isinstance(exc, OSError) else exc.file
    setting = (
        "FSI_RULES_UNITS_FILE" if named is not None and str(named) == units else "FSI_RULES_FILE"
    )
    if isinstance(exc, OSError):
        return startup.StartupError(
            f"{setting}: cannot read {exc.filename}: {exc.strerror}", startup.EXIT_CONFIG
        )
    return startup.StartupError(f"{setting}: {exc}", startup.EXIT_CONFIG)


def open_rules(settings: RulesSettings) -> RuleSet:
    """The rule set to start with, or a `StartupError` (exit 78) naming the setting: unset
    (an installed package has no default), unreadable, or refused by its format."""
    for name, value in (
        ("FSI_RULES_FILE", settings.file),
        ("FSI_RULES_UNITS_FILE", settings.units_file),
    ):
        if not value:
            raise startup.StartupError(
                f"invalid setting {name}: required; the installed package has no default rules "
                "(deploy/routing/ of the source holds examples)",
                startup.EXIT_CONFIG,
            )
    try:
        return load_rules(settings)
    except (RulesError, OSError) as exc:
        raise rules_error(exc, settings) from None


def stamp(settings: RulesSettings) -> Stamp:
    """Both files' modification time and size; `OSError` when one cannot be looked at."""
    rules, units = Path(settings.file).stat(), Path(settings.units_file).stat()
    return (rules.st_mtime_ns, rules.st_size), (units.st_mtime_ns, units.st_size)


def reload_rules(settings: RulesSettings, running: RuleSet) -> RuleSet:
    """The rule set of the files as they are now, to replace `running`; a `RulesError` (or
    `OSError`) when they cannot be loaded or name other units than the running catalogue
    (queues are declared at start, so a new catalogue needs a restart)."""
    fresh = load_rules(settings)
    if set(fresh.catalogue.units) != set(running.catalogue.units):
        raise RulesError(
            "the unit catalogue changed; restart the router and the intake for that",
            file=settings.units_file,
        )
    return fresh
