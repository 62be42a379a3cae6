"""The rules the intake decides and explains with: the router's rule set and unit catalogue
(FSI_RULES_FILE, FSI_RULES_UNITS_FILE), picked up again when a file changes."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable

from schemas.decision import TRIAGE_UNIT, Decision, Priority
from services.common import logging as fsi_logging
from services.common import startup
from services.common.rules import explanation, files
from services.common.rules.engine import Routable, decide, facts_of
from services.common.rules.explanation import RuleCheck
from services.common.rules.reading import RulesError, nearest
from services.common.rules.ruleset import RuleSet
from services.common.settings import RulesSettings, SettingsError

log = fsi_logging.get_logger("rulebook")

# The files are looked at (two stat calls) at most this often; the router polls as often.
CHECK_SECONDS = 2.0


class RuleBook:
    """The running rule set, replaced when its files change and the new ones load; a file
    that does not load (or names other units: queues are declared at start) is logged and
    the running set stays, as in the router. Checks happen on use, at most once every
    `check_seconds` of `clock` (monotonic seconds); a reload takes some 20 ms."""

    def __init__(
        self,
        settings: RulesSettings,
        ruleset: RuleSet,
        *,
        check_seconds: float = CHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._ruleset = ruleset
        self._check_seconds = check_seconds
        self._clock = clock
        self._checked_at = clock()
        self._stamp = self._stamp_now()

    @classmethod
    def open(cls, settings: RulesSettings) -> RuleBook:
        """The rule book of the settings' files; a `SettingsError` naming the setting (and
        the file, line and rule) when they are unset, unreadable or refused: `fsi-intake`
        stops with exit 78, as for its other files."""
        try:
            return cls(settings, files.open_rules(settings))
        except startup.StartupError as exc:
            raise SettingsError(str(exc)) from None

    def _stamp_now(self) -> files.Stamp | None:
        try:
            return files.stamp(self._settings)
        except OSError:
            return None

    def refresh(self) -> bool:
        """Look at the files now; True when a changed set was loaded and is now in use."""
        self._checked_at = self._clock()
        stamp = self._stamp_now()
        if stamp is None or stamp == self._stamp:
            return False
        # Noted before loading: a refused file is not read again until it changes again.
        self._stamp = stamp
        try:
            fresh = files.reload_rules(self._settings, self._ruleset)
        except (RulesError, OSError) as exc:
            # The message names the file, line and rule (never report data).
            log.error("rules refused; the running rules stay", error=str(exc))
            return False
        self._ruleset = fresh
        log.info("rules reloaded", version=fresh.version, rules=len(fresh.rules))
        return True

    @property
    def ruleset(self) -> RuleSet:
        """The rule set in use, after a look at the files if one is due."""
        if self._clock() - self._checked_at >= self._check_seconds:
            self.refresh()
        return self._ruleset

    @property
    def ruleset_version(self) -> str:
        """The version of the rule set in use (`sha256:` and 16 hex digits of its files)."""
        return self.ruleset.version

    def decide(self, report: Routable, report_id: uuid.UUID, now: dt.datetime) -> Decision:
        """The rules' decision on a standardised report, as the router would make it."""
        return decide(report, report_id, self.ruleset, now)

    def explain(self, report: Routable, now: dt.datetime) -> list[RuleCheck]:
        """Every rule in file order with the top-level conditions the report failed (none:
        it matched; one: `nearly`) and the unit the rule names for it."""
        ruleset = self.ruleset
        return explanation.check_rules(ruleset, facts_of(report, ruleset.reference, now))

    def suggested_units(self, report: Routable, now: dt.datetime) -> list[str]:
        """Units to offer a person, each once: the rules' unit (unless triage), the report's
        district's default unit, then the units of the other rules that matched or came one
        condition short (more conditions held first, then file order)."""
        ruleset = self.ruleset
        facts = facts_of(report, ruleset.reference, now)
        decision = decide(report, uuid.UUID(int=0), ruleset, now)
        first = [] if decision.unit == TRIAGE_UNIT else [decision.unit]
        if facts.district is not None:
            home = ruleset.catalogue.districts[facts.district]
            first.append(home.unit(home.default))
        near = explanation.closest_units(explanation.check_rules(ruleset, facts))
        return list(dict.fromkeys([*first, *near]))

    def unit_exists(self, unit: str) -> bool:
        """True for a unit of the catalogue (a district's or a national one); triage is no
        unit a person sends a case to."""
        return unit in self.ruleset.catalogue.units

    def nearest_units(self, text: str, limit: int = 3) -> list[str]:
        """Up to `limit` unit ids closest to `text`, closest first (case, accents and
        spaces aside: `Oslo barn og unge`, `Økokrim`); empty when none is close."""
        catalogue = self.ruleset.catalogue
        aliases = {u.name: u.id for u in catalogue.national.values()}
        for district in catalogue.districts.values():
            for section in district.sections:
                unit = district.unit(section)
                aliases[f"{district.name} {section}"] = unit
                aliases[f"{district.name} {catalogue.section_names[section]}"] = unit
        return nearest(text, catalogue.units, aliases, limit=limit)

    def amqp_priority(self, priority: Priority) -> int:
        """The AMQP message priority (0-9) of a priority, from the rules file's
        `priorities`, as `decide` sets a decision's `amqp_priority`."""
        return self.ruleset.amqp_priorities[priority]

    def district_slug(self, district: str | None) -> str | None:
        """The slug (`oslo`) of a district as a decision names it (`Oslo`); None for none."""
        found = self.ruleset.catalogue.districts.get(district) if district else None
        return found.slug if found else None
