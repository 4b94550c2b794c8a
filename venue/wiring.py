"""Process wiring: settings -> catalog -> sequencer, and the clock that stamps commands at intake.

The pipeline, stage by stage (STYLE 1):
  1. intake      front doors decode wire messages into commands (venue.console today; HTTP, FIX, RFQ later)
  2. sequencing  Core.submit stamps seq + wall-clock time into a CommandRecord (the only clock read)
  3. applying    matching.Sequencer applies the record: books, ledger, pre-trade risk -> events
  4. journaling  (issue 3) the record is made durable before any event leaves
  5. publishing  events go back to the front doors and the bus
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

from config.catalog import Catalog
from config.settings import VenueSettings
from matching.commands import Command, CommandRecord, ListInstrument
from matching.events import Event
from matching.risk_check import RiskCheck
from matching.sequencer import Sequencer


@dataclass(slots=True)
class Core:
    settings: VenueSettings
    catalog: Catalog
    sequencer: Sequencer

    def submit(self, command: Command) -> tuple[CommandRecord, list[Event]]:
        """Stamp ``command`` with the next sequence number and the wall clock, and apply it."""
        return self.sequencer.submit(command, time.time_ns())


def listing_date(settings: VenueSettings) -> date:
    if settings.catalog_as_of:
        return date.fromisoformat(settings.catalog_as_of)
    return datetime.now(UTC).date()


def build_core(settings: VenueSettings | None = None, risk: RiskCheck | None = None) -> Core:
    """A core with the catalog listed as of the settings' date (genesis commands go through the sequencer)."""
    settings = settings or VenueSettings()
    gc.set_threshold(settings.gc_gen0_threshold, 20, 100)  # fewer, larger collections: steadier latency
    catalog = Catalog.load(settings.catalog_path)
    core = Core(settings, catalog, Sequencer(catalog.fee_account, risk))
    for spec in catalog.instruments(listing_date(settings)):
        core.submit(ListInstrument(spec=spec))
    return core
