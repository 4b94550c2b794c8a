"""Process wiring: settings -> catalog -> sequencer -> journal -> runtime.

The pipeline, stage by stage (STYLE 1), is laid out in ``venue.runtime``:
  intake (front doors) -> apply (matching.Sequencer; the wall clock is read only at stamping)
  -> journal (group commit; matching.journal_*) -> acknowledge and publish (listeners).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from config.catalog import Catalog
from config.fix_sessions import FixConfig
from config.risk_params import RiskParams
from config.settings import VenueSettings
from fixgw.acceptor import Acceptor
from matching.commands import CommandRecord, ListInstrument
from matching.events import Event, MarksUpdated
from matching.expiry import OptionExpiry
from matching.journal import Journal, open_journal
from matching.liquidation import LiquidationTerms
from matching.risk_check import RiskCheck
from matching.sequencer import Sequencer
from rfq.board import RfqBoard
from rfq.desk import RfqDesk
from risk.engine import MarginEngine
from risk.levels_cache import LevelsCache
from risk.marks import MarkWatch
from settlement.batch_store import BatchStore
from settlement.service import SettlementConfig, SettlementService
from settlement.vault_client import VaultClient
from settlement.wallets import WalletRegistry
from venue import gc_policy
from venue.api.keys import KeyStore
from venue.bus import Bus, BusError, open_bus
from venue.chain import Chain, open_chain
from venue.fanout import Fanout
from venue.fixcore import VenueCore
from venue.funding_clock import FundingClock
from venue.markfeed import MarkFeed
from venue.readmodel import ReadModel
from venue.records import Records
from venue.runtime import Listener, Runtime
from venue.supervision import bounded_step

log = logging.getLogger("venue.wiring")


@dataclass(slots=True)
class Venue:
    settings: VenueSettings
    catalog: Catalog
    sequencer: Sequencer
    journal: Journal
    runtime: Runtime
    bus: Bus
    fanout: Fanout
    readmodel: ReadModel
    records: Records
    recovered: int  # records replayed from the journal at start
    risk_params: RiskParams
    marks: MarkFeed
    mark_watch: MarkWatch
    levels: LevelsCache
    rfq_board: RfqBoard = field(default_factory=RfqBoard)
    fix: Acceptor | None = None
    settlement: SettlementService | None = None
    chain: Chain | None = None
    funding: FundingClock | None = None

    async def stop(self) -> None:
        """Journal and acknowledge everything in flight, publish it, then close journal and bus.

        Each step has ``STOP_STEP_S``: one that hangs (a client library waiting on a dead peer) is
        logged with where every task waits and skipped, so the process still exits. Nothing is lost by
        skipping: acknowledged records are in the journal, and the next start catches up from it.
        """
        steps: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        if self.fix is not None:
            fix_acceptor = self.fix
            self.fix = None
            steps.append(("the FIX acceptor", lambda: self._stop_fix(fix_acceptor)))
        steps.append(("the mark feed", self.marks.stop))
        if self.funding is not None:
            steps.append(("the funding clock", self.funding.stop))
        if self.settlement is not None:
            steps.append(("settlement", self.settlement.stop))  # it submits through the runtime: first
        steps += [
            ("the runtime", self.runtime.stop),
            ("the fan-out", self.fanout.stop),
            ("the derived records", self.records.stop),
            ("the records store", self.records.close),
        ]
        if self.settlement is not None:
            steps.append(("the batch store", self.settlement.store.close))
        if self.chain is not None:
            chain = self.chain
            steps.append(("the chain", lambda: asyncio.to_thread(chain.close)))
        steps += [("the journal", self.journal.close), ("the bus", self.bus.close)]
        for name, step in steps:
            await bounded_step(name, step(), STOP_STEP_S)
        gc_policy.uninstall()  # a process that starts another venue (tests, benches) can collect this one

    @staticmethod
    async def _stop_fix(acceptor: Acceptor) -> None:
        await acceptor.stop()  # logs sessions out; their cancel-on-disconnects go in
        await asyncio.sleep(0.05)  # let the gateway hand those commands to the runtime


# Per step of Venue.stop: the runtime's final drain and a FIX logout round take well under this.
STOP_STEP_S = 30.0


def listing_date(settings: VenueSettings) -> date:
    if settings.catalog_as_of:
        return date.fromisoformat(settings.catalog_as_of)
    return datetime.now(UTC).date()


def new_sequencer(
    catalog: Catalog, params: RiskParams | None = None, risk: RiskCheck | None = None
) -> Sequencer:
    """The sequencer with the margin engine plugged in (or ``risk``, e.g. the stand-in for benchmarks),
    the RFQ desk and option expiry hosted."""
    params = params or RiskParams.load()
    sequencer = Sequencer(
        catalog.fee_account, risk or MarginEngine(params), LiquidationTerms.from_config(params.liquidation)
    )
    sequencer.extend(RfqDesk())
    sequencer.extend(OptionExpiry())
    return sequencer


async def start_venue(settings: VenueSettings | None = None, risk: RiskCheck | None = None) -> Venue:
    """Open the journal, replay it, start the runtime; list the catalog if the journal was empty."""
    settings = settings or VenueSettings()
    gc_policy.install(settings.gc_gen0_threshold, settings.gc_freeze_survivors)
    catalog = Catalog.load(settings.catalog_path)
    risk_params = RiskParams.load(settings.risk_path)
    sequencer = new_sequencer(catalog, risk_params, risk)
    journal = open_journal(settings.database_url, settings.data_dir)
    await journal.open()
    bus = open_bus(settings.redis_url)
    await bus.open()
    fanout = Fanout(bus)
    runtime = Runtime(sequencer, journal, snapshot_every=settings.snapshot_every)
    readmodel = ReadModel()
    board = RfqBoard()

    def restored(sequencer: Sequencer) -> None:
        readmodel.load(sequencer)
        board.load(desk_of(sequencer))

    recovered = await runtime.recover(observers=[readmodel.apply, board.listener], on_snapshot=restored)
    sequencer = runtime.sequencer  # restored from a snapshot if there was one
    records = Records(journal)
    await records.open()
    await records.catch_up()  # whatever the projection missed (a crash between commit and projection)
    records.start()
    runtime.listeners.append(readmodel.apply)
    runtime.listeners.append(records.listener)
    runtime.listeners.append(board.listener)  # before the fan-out: a maker's quote finds the RFQ it saw
    runtime.listeners.append(fanout.listener)
    settlement = chain = None
    if settings.settlement_enabled:
        if settings.chain_rpc:
            chain = await asyncio.to_thread(open_chain, settings)
        else:  # on this thread, not a worker's: an embedded node dies with the thread that started it
            chain = open_chain(settings)
        settlement = await open_settlement(settings, chain, journal, runtime, bus)
        runtime.listeners.append(settlement.on_record)
    fanout.start()
    runtime.start()
    if settlement is not None:
        settlement.start()
    if recovered == 0:  # genesis: the listing goes through the journal like any command
        listing = [
            runtime.submit_nowait(ListInstrument(spec=spec))
            for spec in catalog.instruments(listing_date(settings))
        ]
        await asyncio.gather(*listing)
    watch = MarkWatch(stale_after_ns=round(risk_params.stale_after_s * 1e9))
    marks = MarkFeed(settings, catalog, runtime, watch)
    runtime.listeners.append(marks.listener)
    engine = runtime.sequencer.risk
    levels = LevelsCache(engine if isinstance(engine, MarginEngine) else MarginEngine(risk_params))
    runtime.listeners.append(levels_listener(levels))
    await marks.prime()
    marks.start()
    funding = FundingClock(runtime, readmodel, risk_params.funding)
    funding.start()
    venue = Venue(
        settings, catalog, runtime.sequencer, journal, runtime, bus, fanout, readmodel, records, recovered,
        risk_params, marks, watch, levels, board, None, settlement, chain, funding,
    )  # fmt: skip
    if settings.fix_enabled:
        venue.fix = start_fix(venue)
    # What start-up built (catalog, replayed state, risk arrays) lives as long as the process: out of
    # the collector's generations, so a full collection under load scans only what came after.
    gc.collect()
    gc.freeze()
    return venue


async def open_settlement(
    settings: VenueSettings, chain: Chain, journal: Journal, runtime: Runtime, bus: Bus
) -> SettlementService:
    """The settlement service on ``chain``, caught up with the journal (call before the runtime starts;
    then add its listener). Its alarms go out on the bus channel ``settlement``."""
    key = settings.operator_key.get_secret_value() if settings.operator_key else None
    operator = settings.operator_address or ("" if key else chain.w3.eth.accounts[0])  # a key names its own
    client = VaultClient(chain.w3, chain.vault, operator, key)
    store = BatchStore(journal)
    await store.open()
    config = SettlementConfig(
        interval_s=settings.settlement_interval_s,
        max_cash_moves=settings.settlement_max_cash_moves,
        confirmations=settings.settlement_confirmations,
        bump_after_s=settings.settlement_bump_after_s,
        from_block=settings.settlement_from_block,
    )

    sending: set[asyncio.Task[None]] = set()

    async def publish(text: str) -> None:
        try:
            await bus.publish("settlement", json.dumps({"alarm": text}).encode())
        except BusError:
            log.exception("settlement alarm not published on the bus")

    def alarm(text: str) -> None:
        task = asyncio.get_running_loop().create_task(publish(text))
        sending.add(task)
        task.add_done_callback(sending.discard)

    wallets = WalletRegistry.load(settings.wallets_file)
    wallets.know(lambda: known_accounts(settings, runtime.sequencer))
    service = SettlementService(journal, store, client, wallets, runtime.submit, config, alarm)
    await service.catch_up()
    return service


def known_accounts(settings: VenueSettings, sequencer: Sequencer) -> set[str]:
    """Every account the venue knows by name: the ledger's, the FIX sessions', the API keys' and its
    own fee and insurance accounts (their derived vault addresses credit them, see settlement.wallets)."""
    names = set(sequencer.ledger.accounts)
    names |= {a for s in FixConfig.load(settings.fix_sessions_file).sessions for a in s.accounts}
    names |= {a for k in KeyStore(settings.api_keys_file or settings.data_dir / "api_keys.toml").keys.values()
              for a in k.accounts}  # fmt: skip
    names.add(sequencer.ledger.fee_account.id)
    names.add(sequencer.liquidation_terms.insurance_account)
    return names


def desk_of(sequencer: Sequencer) -> RfqDesk:
    desk = next((e for e in sequencer.extensions if isinstance(e, RfqDesk)), None)
    if desk is None:
        raise RuntimeError("the sequencer hosts no RFQ desk (build it with new_sequencer)")
    return desk


def start_fix(venue: Venue) -> Acceptor:
    """The FIX acceptor on the sessions file (its port overridden by ``VENUE_FIX_PORT``)."""
    settings = venue.settings
    config = FixConfig.load(settings.fix_sessions_file)
    if settings.fix_port is not None:
        config = config.model_copy(
            update={"acceptor": config.acceptor.model_copy(update={"port": settings.fix_port})}
        )
    acceptor = Acceptor(VenueCore(venue), config, settings.data_dir)
    acceptor.start()
    return acceptor


def levels_listener(levels: LevelsCache) -> Listener:
    """Keeps liquidation levels fresh for accounts near the edge after each mark update."""

    def on_record(record: CommandRecord, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, MarksUpdated):
                levels.refresh(event.underlying)

    return on_record
