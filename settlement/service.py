"""The settlement service: cuts batches, commits state, settles on chain, reconciles, and brings the
chain's deposits and withdrawal requests into the ledger.

Stages (each a task; all state that must survive a restart is in the batch store or the journal):
- cut: every ``interval_s`` (or once ``max_cash_moves`` cash moves wait) it submits
  ``SettlePerpetuals`` through the core; nothing is cut while no cash moved and no withdrawal waits.
- build: a runtime listener feeds durable records to the netting and the ledger mirror; each cut
  closes a batch, stored with its state commitment and the mirror at the cut (to resume from).
- settle: batches go on chain strictly in id order, one in flight. The vault's ``lastBatchId`` is
  read before every send, so a batch the chain already has (the service died after sending it) is
  confirmed from its ``BatchSettled`` event rather than sent again. A transaction with no receipt
  after ``bump_after_s`` is replaced at the same nonce with higher fees; a refused batch is marked
  failed and retried after ``retry_s``. Confirmed at ``confirmations`` blocks (1: its own block).
- reconcile: after each confirmed batch, the vault balance of every account the batch touched is
  compared with the ledger at the cut (adjusted for deposits the ledger has not booked yet; a
  withdrawal request holds no escrow, so only a served one moves a vault balance). A mismatch
  raises the alarm: an error log, the ``alarm`` metric, an ``on_alarm`` callback
  (the venue publishes it on the bus), and no further batch goes out until ``resume()``.
- watch: ``Deposited`` and ``WithdrawalRequested`` events ``confirmations`` blocks deep become
  Deposit / Withdraw commands, referenced ``tx_hash:log_index`` / ``vault-withdrawal:<id>``, so a
  re-read (restart, reorganisation) is refused as a duplicate by the sequencer, never credited twice.
  A request the margin check refuses is retried each round and counted in ``refused_requests``;
  once ``force_after_share`` of the vault's exit timeout has passed it is forced (debited within the
  account's equity whatever margin it frees; an account left below maintenance is liquidated), so a
  healthy venue serves every request it can cover before anyone may freeze the vault. A request
  beyond what even a forced debit covers (the account's collateral, capped at its equity) is refused
  on chain instead (``rejectWithdrawal``, with the account's proof in the last confirmed root).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from web3 import Web3

from matching.commands import Command, CommandRecord, Deposit, SettlePerpetuals, Withdraw
from matching.events import Event, PerpetualsSettled, RequestRejected
from matching.journal import Journal
from matching.reasons import Reason
from settlement.batch_store import BatchStatus, BatchStore, BatchStoreUnavailable, StoredBatch
from settlement.merkle import AccountState
from settlement.mirror import Commitment, LedgerMirror
from settlement.netting import NetBatch, Netting, NettingError, NettingState
from settlement.vault_client import ChainUnavailable, LogEntry, Sent, VaultClient, VaultRefused
from settlement.wallets import WalletRegistry
from settlement.withdrawal_sig import SignedWithdrawal

log = logging.getLogger("venue.settlement")

Submit = Callable[[Command], Awaitable[tuple[CommandRecord, list[Event]]]]
VAULT_WITHDRAWAL = "vault-withdrawal:"
WATCH_CURSOR = "chain_watch_block"


@dataclass(frozen=True, slots=True)
class SettlementConfig:
    interval_s: float = 2.0  # seconds between cuts
    max_cash_moves: int = 50_000  # cut early once this many cash moves wait
    confirmations: int = 1  # blocks, the batch's or event's own included
    bump_after_s: float = 30.0  # replace a transaction with no receipt after this long
    retry_s: float = 5.0  # wait after a refused batch before sending it again
    poll_s: float = 0.2  # how often the chain is polled
    from_block: int = 0  # the vault's deployment block: events before it are not scanned
    # share of the vault's exit timeout after which a request still refused for margin is forced
    # (debited whatever margin it frees, within equity): the vault must never freeze on a healthy venue
    force_after_share: float = 0.5


@dataclass(slots=True)
class SettlementStats:
    batches_built: int = 0
    batches_confirmed: int = 0
    submissions: int = 0
    replacements: int = 0
    refusals: int = 0
    deposits_credited: int = 0
    requests_debited: int = 0
    refused_requests: int = 0
    rejected_requests: int = 0  # refused on chain: beyond what the account may withdraw (proven)
    gas_used: int = 0
    chain_up: bool = True
    alarm: str = ""  # non-empty: batches stopped until resume()
    last_confirmed: int = 0


@dataclass(frozen=True, slots=True)
class Proof:
    """What an account needs to exit from the vault: its leaf in the last confirmed root and the path."""

    batch_id: int
    root: bytes
    state: AccountState
    proof: tuple[bytes, ...]


class SettlementService:
    def __init__(
        self,
        journal: Journal,
        store: BatchStore,
        client: VaultClient,
        wallets: WalletRegistry,
        submit: Submit,
        config: SettlementConfig | None = None,
        on_alarm: Callable[[str], None] | None = None,
    ) -> None:
        self.journal = journal
        self.store = store
        self.client = client
        self.wallets = wallets
        self.submit = submit
        self.config = config or SettlementConfig()
        self.on_alarm = on_alarm
        self.mirror = LedgerMirror()
        self.netting = Netting()
        self.stats = SettlementStats()
        self._built: asyncio.Queue[tuple[NetBatch, Commitment, str]] = asyncio.Queue()
        self._sent: dict[int, tuple[Sent, float]] = {}  # batch id -> latest send, monotonic time
        self._retry_at: dict[int, float] = {}
        self._refused: dict[int, tuple[str, int]] = {}  # on-chain request id -> (account, amount)
        self._logs: dict[str, list[LogEntry]] = {"Deposited": []}
        self._logs_to = self.config.from_block - 1  # last block scanned for reconciliation
        self._tasks: list[asyncio.Task[None]] = []
        self._proofs: tuple[int, Commitment, Any] | None = None  # cached tree of the last confirmed root

    # -- start and stop -----------------------------------------------------------------------------

    async def catch_up(self) -> int:
        """Resume from the newest stored batch and net the journal records after it; call before the
        runtime starts, then add ``on_record`` to its listeners. Returns the records read."""
        latest = await self.store.latest()
        if latest is not None:
            stored, mirror = latest
            if mirror is None:
                raise RuntimeError(f"batch {stored.batch.batch_id} was stored without its mirror state")
            self.mirror = LedgerMirror.from_json(mirror)
            self.netting = Netting(
                NettingState(next_batch_id=stored.batch.batch_id + 1, last_seq=stored.batch.last_seq)
            )
        count = 0
        async for rows in self.journal.read(self.netting.state.last_seq + 1):
            for row in rows:
                self.on_record(row.record, row.events())
            count += len(rows)
        await self._store_built()
        return count

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._guard(self._cut_loop)),
            asyncio.create_task(self._guard(self._store_loop)),
            asyncio.create_task(self._guard(self._settle_loop)),
            asyncio.create_task(self._guard(self._watch_loop)),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self._store_built()

    async def _guard(self, loop: Callable[[], Awaitable[None]]) -> None:
        """Run a stage forever: a chain outage or a bug in one round must not end the stage."""
        while True:
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except ChainUnavailable as exc:
                if self.stats.chain_up:
                    log.warning("settlement chain unavailable: %s", exc)
                self.stats.chain_up = False
                await asyncio.sleep(1.0)
            except BatchStoreUnavailable as exc:  # its database is down: a line per retry, no traceback
                log.warning("settlement stage %s: %s; retrying", loop.__name__, exc)
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("settlement stage %s failed; restarting it", loop.__name__)
                await asyncio.sleep(1.0)

    # -- cut and build ------------------------------------------------------------------------------

    def on_record(self, record: CommandRecord, events: list[Event]) -> None:
        """A runtime listener: durable records in sequence order."""
        if record.seq <= self.netting.state.last_seq:
            return
        self.mirror.on_record(record, events)
        try:
            self.netting.on_record(record, events)
        except NettingError as exc:  # the ledger and the netting disagree: nothing more may go out
            self._raise(f"netting failed at record {record.seq}: {exc}")
            return
        for batch in self.netting.take():
            # The mirror has just applied the cut record: its state is the ledger right after the cut.
            self._built.put_nowait((batch, self.mirror.commit(self.wallets), self.mirror.to_json()))

    def due(self) -> bool:
        state = self.netting.state
        return bool(state.cash_moves or state.withdrawals)

    async def cut(self) -> bool:
        """Cut a batch now (if anything waits); False when nothing waited or the core refused."""
        if not self.due():
            return False
        _, events = await self.submit(SettlePerpetuals(reference=f"cut-{time.time_ns()}"))
        refused = next((e for e in events if isinstance(e, RequestRejected)), None)
        if refused is not None:
            log.warning("settlement cut refused: %s", refused.text)
            return False
        return any(isinstance(e, PerpetualsSettled) for e in events)

    async def _cut_loop(self) -> None:
        next_cut = time.monotonic() + self.config.interval_s
        while True:
            await asyncio.sleep(min(self.config.poll_s, max(next_cut - time.monotonic(), 0)))
            full = self.netting.state.cash_moves >= self.config.max_cash_moves
            if full or time.monotonic() >= next_cut:
                next_cut = time.monotonic() + self.config.interval_s
                await self.cut()

    async def _store_loop(self) -> None:
        while True:
            item = await self._built.get()
            await self._store_one(*item)

    async def _store_built(self) -> None:
        while not self._built.empty():
            await self._store_one(*self._built.get_nowait())

    async def _store_one(self, batch: NetBatch, commitment: Commitment, mirror: str) -> None:
        await self.store.add(batch, commitment, mirror)
        self.stats.batches_built += 1

    # -- settle -------------------------------------------------------------------------------------

    async def _settle_loop(self) -> None:
        while True:
            await self.settle_once()
            await asyncio.sleep(self.config.poll_s)

    async def settle_once(self) -> int:
        """Advance the pending batches as far as the chain allows now; returns how many confirmed."""
        if self.stats.alarm:
            return 0
        confirmed = 0
        for stored in await self.store.pending():
            if not await self._advance(stored):
                break
            confirmed += 1
            if self.alarmed():  # reconciliation of the batch just confirmed failed
                break
        self.stats.chain_up = True
        return confirmed

    async def _advance(self, stored: StoredBatch) -> bool:
        """One step for the oldest unconfirmed batch; True once it is confirmed."""
        client, batch_id, now = self.client, stored.batch.batch_id, time.monotonic()
        on_chain = await asyncio.to_thread(client.last_batch_id)
        if on_chain >= batch_id:
            event = await asyncio.to_thread(client.settled_batch, batch_id, self.config.from_block)
            if event is None:
                self._raise(f"the vault is at batch {on_chain} but has no BatchSettled for {batch_id}")
                return False
            head = await asyncio.to_thread(client.head)
            if head - event.block + 1 < self.config.confirmations:
                return False
            await self.store.confirmed(batch_id, event.tx_hash, event.block)
            mined = await asyncio.to_thread(client.receipt, event.tx_hash)
            self.stats.gas_used += mined.gas_used if mined else 0
            self.stats.batches_confirmed += 1
            self.stats.last_confirmed = batch_id
            self._sent.pop(batch_id, None)
            await self.reconcile(stored, event.block)
            return True
        if on_chain < batch_id - 1:
            self._raise(f"batch {batch_id} is next here but the vault is at batch {on_chain}")
            return False
        if stored.status is BatchStatus.SUBMITTED and stored.tx_hash:
            mined = await asyncio.to_thread(client.receipt, stored.tx_hash)
            if mined is not None and mined.status == 0:
                await self._refuse(batch_id, f"transaction {stored.tx_hash} reverted")
                return False
            sent, at = self._sent.get(batch_id, (None, 0.0))
            if mined is None and (sent is None or now - at >= self.config.bump_after_s):
                # after a restart the tip is not known: assume the cap, so the replacement outbids both
                fee = stored.max_fee_wei or 0
                previous = sent or Sent(stored.tx_hash, stored.nonce or 0, fee, fee)
                await self._send(stored, previous)
                self.stats.replacements += 1
            return False
        if now < self._retry_at.get(batch_id, 0.0):
            return False
        await self._send(stored, None)
        return False

    async def _send(self, stored: StoredBatch, replacing: Sent | None) -> None:
        batch, commitment = stored.batch, stored.commitment
        if commitment is None:
            self._raise(f"batch {batch.batch_id} has no state commitment")
            return
        accounts = [self.wallets.address(a) for a, _ in batch.deltas]
        deltas = [d for _, d in batch.deltas]
        serve = [
            int(r[len(VAULT_WITHDRAWAL) :]) for r, _, _ in batch.withdrawals if r.startswith(VAULT_WITHDRAWAL)
        ]
        try:
            sent = await asyncio.to_thread(
                self.client.settle_batch,
                batch.batch_id,
                accounts,
                deltas,
                serve,
                commitment.root,
                commitment.marks_hash,
                commitment.equity,
                replacing,
            )
        except VaultRefused as exc:
            await self._refuse(batch.batch_id, exc.reason)
            return
        await self.store.submitted(batch.batch_id, sent.tx_hash, sent.nonce, sent.max_fee_wei)
        self._sent[batch.batch_id] = (sent, time.monotonic())
        self.stats.submissions += 1

    async def _refuse(self, batch_id: int, reason: str) -> None:
        log.error("settlement batch %d refused by the vault: %s", batch_id, reason)
        await self.store.failed(batch_id, reason)
        self._sent.pop(batch_id, None)
        self._retry_at[batch_id] = time.monotonic() + self.config.retry_s
        self.stats.refusals += 1

    # -- reconcile ----------------------------------------------------------------------------------

    async def reconcile(self, stored: StoredBatch, block: int) -> list[str]:
        """Compare the vault at ``block`` with the ledger at the batch's cut; returns the mismatches
        (and raises the alarm if there are any)."""
        mirror_json = await self.store.mirror_of(stored.batch.batch_id)
        if mirror_json is None:
            return []  # stored by a version that kept no mirror: nothing to compare against
        at_cut = LedgerMirror.from_json(mirror_json)
        await self._scan_logs(block)
        unbooked: dict[str, int] = {}  # address -> chain balance minus ledger collateral it explains
        touched = {self.wallets.address(a) for a, _ in stored.batch.deltas}
        touched |= {self.wallets.address(a) for _, a, _ in stored.batch.withdrawals}
        for entry in self._logs["Deposited"]:
            if entry.block <= block and entry.reference not in at_cut.moved:
                address = entry.args["account"]
                unbooked[address] = unbooked.get(address, 0) + int(entry.args["amount"])
                touched.add(address)
        mismatches = []
        for address in sorted(touched):
            account = self.wallets.account(address)
            expected = at_cut.collateral.get(account, 0) + unbooked.get(address, 0)
            actual = await asyncio.to_thread(self.client.balance, address, block)
            if actual != expected:
                label = address if account == address else f"{account} ({address})"
                mismatches.append(f"{label}: vault {actual}, ledger {expected}")
        if mismatches:
            self._raise(
                f"reconciliation after batch {stored.batch.batch_id} failed: " + "; ".join(mismatches[:10])
            )
        return mismatches

    async def _scan_logs(self, to_block: int) -> None:
        if to_block <= self._logs_to:
            return
        start = self._logs_to + 1
        for name, entries in self._logs.items():
            entries.extend(await asyncio.to_thread(self.client.logs, name, start, to_block))
        self._logs_to = to_block

    def _raise(self, text: str) -> None:
        if self.stats.alarm:
            return
        self.stats.alarm = text
        log.error("SETTLEMENT ALARM (batches stopped): %s", text)
        if self.on_alarm is not None:
            self.on_alarm(text)

    def alarmed(self) -> bool:
        return bool(self.stats.alarm)

    def resume(self) -> str:
        """Clear the alarm after the operator resolved it; returns the alarm that was cleared."""
        cleared, self.stats.alarm = self.stats.alarm, ""
        if cleared:
            log.warning("settlement resumed after: %s", cleared)
        return cleared

    # -- watch the chain ----------------------------------------------------------------------------

    async def _watch_loop(self) -> None:
        while True:
            await self.watch_once()
            await asyncio.sleep(self.config.poll_s)

    async def watch_once(self) -> int:
        """Book every deposit and request now ``confirmations`` deep; returns the commands accepted."""
        client = self.client
        start = max(await self.store.cursor(WATCH_CURSOR) + 1, self.config.from_block)
        head = await asyncio.to_thread(client.head)
        to = head - self.config.confirmations + 1
        accepted = await self._retry_refused()
        if to < start:
            return accepted
        for entry in await asyncio.to_thread(client.logs, "Deposited", start, to):
            account = self.wallets.account(entry.args["account"])
            command = Deposit(
                account=account, amount_micro=int(entry.args["amount"]), reference=entry.reference
            )
            if await self._book(command):
                self.stats.deposits_credited += 1
                accepted += 1
        for entry in await asyncio.to_thread(client.logs, "WithdrawalRequested", start, to):
            request_id = int(entry.args["id"])
            account = self.wallets.account(entry.args["account"])
            amount = int(entry.args["amount"])
            if await self._request(request_id, account, amount):
                accepted += 1
        await self.store.set_cursor(WATCH_CURSOR, to)
        self.stats.chain_up = True
        return accepted

    async def _book(self, command: Deposit | Withdraw) -> bool:
        _, events = await self.submit(command)
        refused = next((e for e in events if isinstance(e, RequestRejected)), None)
        if refused is None:
            return True
        if refused.reason != Reason.DUPLICATE_REFERENCE:  # a duplicate was booked before: fine
            log.warning("%s %s refused: %s", type(command).__name__, command.reference, refused.text)
        return False

    async def _request(self, request_id: int, account: str, amount: int) -> bool:
        reference = f"{VAULT_WITHDRAWAL}{request_id}"
        forced = request_id in self._refused and await self._must_force(request_id)
        command = Withdraw(account=account, amount_micro=amount, reference=reference, forced=forced)
        _, events = await self.submit(command)
        refused = next((e for e in events if isinstance(e, RequestRejected)), None)
        if refused is None:
            self._forget(request_id)
            self.stats.requests_debited += 1
            return True
        # Done with it without a debit: booked before (a re-read), closed on chain before a restart,
        # or beyond what even a forced debit covers and rejected on chain now.
        done = refused.reason == Reason.DUPLICATE_REFERENCE
        done = done or await asyncio.to_thread(self.client.request_closed, request_id)
        done = done or (forced and await self._reject_on_chain(request_id, account))
        if done:
            self._forget(request_id)
            return False
        if request_id not in self._refused:
            log.warning("on-chain withdrawal %d of %s refused for now: %s", request_id, account, refused.text)
        self._refused[request_id] = (account, amount)
        self.stats.refused_requests = len(self._refused)
        return False

    def _forget(self, request_id: int) -> None:
        self._refused.pop(request_id, None)
        self.stats.refused_requests = len(self._refused)

    async def _reject_on_chain(self, request_id: int, account: str) -> bool:
        """A request even a forced debit cannot cover (beyond the account's collateral, capped at its
        equity): refuse it on chain with the account's proof in the last confirmed root, so it cannot
        freeze the vault."""
        found = await self.proof(account)
        if found is None:
            log.error("withdrawal %d of %s: no leaf to prove its equity with", request_id, account)
            return False
        try:
            tx_hash = await asyncio.to_thread(
                self.client.reject_withdrawal, request_id, found.state, found.proof
            )
        except VaultRefused as exc:  # e.g. covered in the last root: a newer root will tell
            log.warning("withdrawal %d of %s not rejected by the vault: %s", request_id, account, exc.reason)
            return False
        log.warning(
            "withdrawal %d of %s rejected on chain (%s): beyond what it may withdraw",
            request_id,
            account,
            tx_hash,
        )
        self.stats.rejected_requests += 1
        return True

    async def _must_force(self, request_id: int) -> bool:
        client = self.client
        requested = await asyncio.to_thread(client.requested_at, request_id)
        timeout = await asyncio.to_thread(client.exit_timeout)
        now = await asyncio.to_thread(client.chain_time)
        if now < requested + timeout * self.config.force_after_share:
            return False
        log.warning("on-chain withdrawal %d forced: %d s of the %d s exit timeout gone", request_id,
                    now - requested, timeout)  # fmt: skip
        return True

    async def _retry_refused(self) -> int:
        accepted = 0
        for request_id, (account, amount) in list(self._refused.items()):
            if await self._request(request_id, account, amount):
                accepted += 1
        self.stats.refused_requests = len(self._refused)
        return accepted

    # -- withdrawals asked through the API --------------------------------------------------------

    async def relay_withdrawal(self, signed: SignedWithdrawal) -> tuple[str, int]:
        """Put a wallet's signed withdrawal on chain (the operator pays the gas): (tx hash, request id).
        From there it is an on-chain request like any other: margin-checked when the watcher books
        it, served by the next batch. ``VaultRefused`` / ``ChainUnavailable`` pass through."""
        tx_hash, request_id = await asyncio.to_thread(
            self.client.request_withdrawal_with_sig,
            signed.account, signed.amount, signed.deadline, signed.v, signed.r, signed.s,
        )  # fmt: skip
        return tx_hash, request_id

    # -- proofs -------------------------------------------------------------------------------------

    async def proof(self, account: str) -> Proof | None:
        """The account's leaf and Merkle path in the last confirmed root; None if it has no leaf."""
        last = await self.store.last_confirmed()
        if last is None or last.commitment is None:
            return None
        batch_id = last.batch.batch_id
        if self._proofs is None or self._proofs[0] != batch_id:
            self._proofs = (batch_id, last.commitment, last.commitment.tree())
        _, commitment, tree = self._proofs
        address = Web3.to_checksum_address(self.wallets.address(account))
        if tree is None or address not in tree.states:
            return None
        return Proof(batch_id, commitment.root, tree.states[address], tuple(tree.proof(address)))
