"""The vault on a real anvil: deposits, batches, withdrawals, EIP-712, and the escape hatch."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import Web3
from web3.exceptions import ContractLogicError

from contracts.loader import ARTIFACTS, artifact, deploy, source_hashes, stale_artifacts
from settlement.merkle import AccountState, MerkleTree
from settlement.withdrawal_sig import typed_data
from tests.contracts.conftest import EXIT_TIMEOUT, MICRO, Chain

ZERO = b"\x00" * 32
MARKS = Web3.keccak(text="marks of batch")


def reverts(error: str, action: Callable[[], Any]) -> None:
    """``action`` reverts with the custom error named ``error`` (e.g. "BadBatchId(uint64,uint64)")."""
    selector = Web3.keccak(text=error)[:4].hex()
    with pytest.raises(ContractLogicError) as caught:
        action()
    assert selector in str(caught.value.data), f"expected {error}, got {caught.value}"


def settle(c: Chain, batch: int, deltas: dict[str, int], serve: list[int], tree: MerkleTree | None) -> dict:  # type: ignore[type-arg]
    root = tree.root if tree else ZERO
    equity = sum(s.equity for s in tree.states.values()) if tree else 0
    call = c.vault.functions.settleBatch(
        batch, list(deltas), list(deltas.values()), serve, root, MARKS, equity
    )
    return c.tx(call, c.operator)


def events(c: Chain, receipt: dict, name: str) -> list[Any]:  # type: ignore[type-arg]
    from web3.logs import DISCARD

    return list(getattr(c.vault.events, name)().process_receipt(receipt, errors=DISCARD))


def test_artifacts_are_built_from_the_current_sources() -> None:
    assert stale_artifacts() == []
    assert (
        artifact("Vault")["compiler"].startswith("0.8.37")
        and artifact("Vault")["sourceHashes"] == source_hashes()
    )
    node_modules = ARTIFACTS.parent / "node_modules" / "solc"
    if node_modules.exists():  # byte-for-byte: the committed artifacts are what the pinned compiler writes
        check = subprocess.run(
            ["node", "build.js", "--check"], cwd=ARTIFACTS.parent, capture_output=True, text=True
        )
        assert check.returncode == 0, check.stderr


def test_deposit_batch_and_a_served_withdrawal(chain: Chain) -> None:
    c = chain
    alice, bob = c.users[:2]
    for user in (alice, bob):
        c.fund(user, 1_000 * MICRO)
    receipt = c.tx(c.vault.functions.deposit(600 * MICRO), alice)
    assert events(c, receipt, "Deposited")[0]["args"]["balance"] == 600 * MICRO
    c.tx(c.vault.functions.depositFor(bob, 400 * MICRO), bob)
    # bob buys an option from alice: premium 50 to alice, fees 1 + 1 to the fee account (owner here)
    fees = c.owner
    tree = MerkleTree(
        [AccountState(alice, 649 * MICRO, 640 * MICRO), AccountState(bob, 349 * MICRO, 355 * MICRO)]
    )
    receipt = settle(c, 1, {alice: 49 * MICRO, bob: -51 * MICRO, fees: 2 * MICRO}, [], tree)
    settled = events(c, receipt, "BatchSettled")[0]["args"]
    assert (settled["batchId"], settled["stateRoot"], settled["accounts"]) == (1, tree.root, 3)
    assert c.vault.functions.balance(alice).call() == 649 * MICRO
    receipt = c.tx(c.vault.functions.requestWithdrawal(100 * MICRO), alice)
    wid = events(c, receipt, "WithdrawalRequested")[0]["args"]["id"]
    assert c.vault.functions.pendingWithdrawals().call() == 100 * MICRO
    receipt = settle(c, 2, {}, [wid], tree)
    assert events(c, receipt, "WithdrawalServed")[0]["args"]["amount"] == 100 * MICRO
    assert c.token.functions.balanceOf(alice).call() == 500 * MICRO
    assert c.vault.functions.balance(alice).call() == 549 * MICRO
    # the vault holds exactly the balances (a request holds no escrow: it leaves when served)
    held = c.token.functions.balanceOf(c.vault.address).call()
    balances = sum(c.vault.functions.balance(a).call() for a in (alice, bob, fees))
    assert held == balances and c.vault.functions.pendingWithdrawals().call() == 0


def test_bad_batches_are_refused(chain: Chain) -> None:
    c = chain
    alice = c.users[0]
    c.fund(alice, 100 * MICRO)
    c.tx(c.vault.functions.deposit(100 * MICRO), alice)
    f = c.vault.functions
    reverts("NotOperator()", lambda: f.settleBatch(1, [], [], [], ZERO, MARKS, 0).transact({"from": alice}))
    reverts(
        "BadBatchId(uint64,uint64)",
        lambda: f.settleBatch(2, [], [], [], ZERO, MARKS, 0).transact({"from": c.operator}),
    )
    settle(c, 1, {}, [], None)
    reverts(
        "BadBatchId(uint64,uint64)",
        lambda: f.settleBatch(1, [], [], [], ZERO, MARKS, 0).transact({"from": c.operator}),
    )
    reverts(
        "NotConserved(int256)",
        lambda: f.settleBatch(2, [alice, c.owner], [-5, 4], [], ZERO, MARKS, 0).transact(
            {"from": c.operator}
        ),
    )
    reverts(
        "NegativeBalance(address)",
        lambda: f.settleBatch(2, [alice, c.owner], [-101 * MICRO, 101 * MICRO], [], ZERO, MARKS, 0).transact(
            {"from": c.operator}
        ),
    )
    reverts(
        "InsufficientBalance(uint256,uint256)",
        lambda: f.requestWithdrawal(101 * MICRO).transact({"from": alice}),
    )
    reverts(
        "UnknownWithdrawal(uint256)",
        lambda: f.settleBatch(2, [], [], [7], ZERO, MARKS, 0).transact({"from": c.operator}),
    )
    # the guardian pauses batches and deposits, and nothing else
    reverts("NotGuardian()", lambda: f.setPaused(True).transact({"from": c.operator}))
    c.tx(f.setPaused(True), c.guardian)
    reverts("IsPaused()", lambda: f.settleBatch(2, [], [], [], ZERO, MARKS, 0).transact({"from": c.operator}))
    c.tx(f.requestWithdrawal(10 * MICRO), alice)  # requests still work while paused


def signed_withdrawal(c: Chain, key: Any, amount: int, nonce: int, deadline: int) -> tuple[int, bytes, bytes]:
    """Signed as the venue's API checks it (settlement.withdrawal_sig): the vault must agree."""
    typed = typed_data(c.w3.eth.chain_id, c.vault.address, key.address, amount, nonce, deadline)
    sig = Account.sign_message(encode_typed_data(full_message=typed), key.key)
    return sig.v, sig.r.to_bytes(32, "big"), sig.s.to_bytes(32, "big")


def test_eip712_withdrawal_submitted_by_the_operator(chain: Chain) -> None:
    c = chain
    key = Account.create()
    funder = c.users[0]
    c.fund(funder, 100 * MICRO)
    c.tx(c.vault.functions.depositFor(key.address, 100 * MICRO), funder)
    deadline = c.w3.eth.get_block("latest")["timestamp"] + 600
    v, r, s = signed_withdrawal(c, key, 30 * MICRO, 0, deadline)
    f = c.vault.functions
    c.tx(f.requestWithdrawalWithSig(key.address, 30 * MICRO, deadline, v, r, s), c.operator)
    assert f.pendingOf(key.address).call() == 30 * MICRO and f.nonces(key.address).call() == 1
    # replayed: the nonce has moved on
    reverts(
        "BadSignature()",
        lambda: f.requestWithdrawalWithSig(key.address, 30 * MICRO, deadline, v, r, s).transact(
            {"from": c.operator}
        ),
    )
    # forged: signed by someone else, or for another amount
    other = Account.create()
    v2, r2, s2 = signed_withdrawal(c, other, 30 * MICRO, 1, deadline)
    reverts(
        "BadSignature()",
        lambda: f.requestWithdrawalWithSig(key.address, 30 * MICRO, deadline, v2, r2, s2).transact(
            {"from": c.operator}
        ),
    )
    v3, r3, s3 = signed_withdrawal(c, key, 30 * MICRO, 1, deadline)
    reverts(
        "BadSignature()",
        lambda: f.requestWithdrawalWithSig(key.address, 31 * MICRO, deadline, v3, r3, s3).transact(
            {"from": c.operator}
        ),
    )
    reverts(
        "Expired()",
        lambda: f.requestWithdrawalWithSig(key.address, 30 * MICRO, deadline - 10_000, v3, r3, s3).transact(
            {"from": c.operator}
        ),
    )


def test_the_escape_hatch_needs_nothing_from_the_operator(chain: Chain) -> None:
    c = chain
    alice, bob, carol = c.users[:3]
    for user in (alice, bob, carol):
        c.fund(user, 1_000 * MICRO)
        c.tx(c.vault.functions.deposit(500 * MICRO), user)
    # the last batch the operator ever settles: alice gained 120 from bob
    states = [
        AccountState(alice, 620 * MICRO, 620 * MICRO, Web3.keccak(text="alice positions")),
        AccountState(bob, 380 * MICRO, 380 * MICRO),
        AccountState(carol, 500 * MICRO, 500 * MICRO),
    ]
    tree = MerkleTree(states)
    settle(c, 1, {alice: 120 * MICRO, bob: -120 * MICRO}, [], tree)
    c.tx(c.vault.functions.deposit(50 * MICRO), carol)  # after the last root: paid on exit too
    # ... then the operator vanishes. Bob asks for his money and nobody serves it.
    receipt = c.tx(c.vault.functions.requestWithdrawal(300 * MICRO), bob)
    wid = events(c, receipt, "WithdrawalRequested")[0]["args"]["id"]
    f = c.vault.functions
    reverts("TooEarly(uint256)", lambda: f.freeze(wid).transact({"from": carol}))
    reverts(
        "NotFrozen()",
        lambda: f.exit(620 * MICRO, 620 * MICRO, states[0].positions_hash, tree.proof(alice)).transact(
            {"from": alice}
        ),
    )
    c.travel(EXIT_TIMEOUT + 1)
    c.tx(f.freeze(wid), carol)  # anyone may
    reverts("IsFrozen()", lambda: f.settleBatch(2, [], [], [], ZERO, MARKS, 0).transact({"from": c.operator}))
    reverts("IsFrozen()", lambda: f.deposit(1).transact({"from": alice}))
    # a wrong proof, or another account's numbers, get nothing
    reverts(
        "BadProof()",
        lambda: f.exit(900 * MICRO, 900 * MICRO, states[0].positions_hash, tree.proof(alice)).transact(
            {"from": alice}
        ),
    )
    reverts(
        "BadProof()",
        lambda: f.exit(380 * MICRO, 380 * MICRO, ZERO, tree.proof(bob)).transact({"from": alice}),
    )
    before = {u: c.token.functions.balanceOf(u).call() for u in (alice, bob, carol)}
    c.tx(f.exit(620 * MICRO, 620 * MICRO, states[0].positions_hash, tree.proof(alice)), alice)
    c.tx(f.exit(380 * MICRO, 380 * MICRO, ZERO, tree.proof(bob)), bob)
    c.tx(f.exit(500 * MICRO, 500 * MICRO, ZERO, tree.proof(carol)), carol)
    paid = {u: c.token.functions.balanceOf(u).call() - before[u] for u in (alice, bob, carol)}
    assert paid == {alice: 620 * MICRO, bob: 380 * MICRO, carol: 550 * MICRO}  # solvent: paid in full
    reverts(
        "AlreadyExited()",
        lambda: f.exit(620 * MICRO, 620 * MICRO, states[0].positions_hash, tree.proof(alice)).transact(
            {"from": alice}
        ),
    )
    assert c.token.functions.balanceOf(c.vault.address).call() == 0


def test_exits_are_pro_rata_when_claims_exceed_the_tokens(chain: Chain) -> None:
    c = chain
    alice, bob = c.users[:2]
    for user in (alice, bob):
        c.fund(user, 1_000 * MICRO)
        c.tx(c.vault.functions.deposit(500 * MICRO), user)
    # equity at marks exceeds the tokens (an insolvent counterparty, carried at zero in the tree)
    tree = MerkleTree(
        [AccountState(alice, 500 * MICRO, 900 * MICRO), AccountState(bob, 500 * MICRO, 600 * MICRO)]
    )
    settle(c, 1, {}, [], tree)
    receipt = c.tx(c.vault.functions.requestWithdrawal(10 * MICRO), bob)
    wid = events(c, receipt, "WithdrawalRequested")[0]["args"]["id"]
    c.travel(EXIT_TIMEOUT + 1)
    c.tx(c.vault.functions.freeze(wid), alice)
    before = c.token.functions.balanceOf(alice).call()
    c.tx(c.vault.functions.exit(500 * MICRO, 900 * MICRO, ZERO, tree.proof(alice)), alice)
    assert (
        c.token.functions.balanceOf(alice).call() - before == 900 * MICRO * 1_000 // 1_500
    )  # 1,000 for 1,500 of claims
    c.tx(c.vault.functions.exit(500 * MICRO, 600 * MICRO, ZERO, tree.proof(bob)), bob)
    assert c.token.functions.balanceOf(c.vault.address).call() == 0


def test_a_reentrant_token_cannot_reenter(chain: Chain) -> None:
    c = chain
    evil = deploy(c.w3, "ReentrantToken", sender=c.owner)
    vault = deploy(c.w3, "Vault", evil.address, EXIT_TIMEOUT, c.operator, c.guardian, sender=c.owner)
    user = c.users[0]
    c.tx(evil.functions.mint(user, 100), c.owner)
    c.tx(evil.functions.approve(vault.address, 100), user)
    c.tx(evil.functions.arm(vault.address, 1), c.owner)
    reverts("Reentrant()", lambda: vault.functions.deposit(10).transact({"from": user}))
    assert vault.functions.balance(user).call() == 0 and not evil.functions.reentered().call()
    c.tx(evil.functions.arm(vault.address, 0), c.owner)
    c.tx(vault.functions.deposit(10), user)  # disarmed: a plain deposit works
    assert vault.functions.balance(user).call() == 10


balances_ops = st.lists(
    st.tuples(st.sampled_from(["deposit", "request", "batch"]), st.integers(0, 2), st.integers(1, 300)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=balances_ops)
def test_tokens_held_equal_balances_plus_pending_withdrawals(
    chain: Chain, ops: list[tuple[str, int, int]]
) -> None:
    c = chain
    snapshot = c.w3.provider.make_request("evm_snapshot", [])  # type: ignore[arg-type]
    users = c.users[:3]
    for user in users:
        c.fund(user, 10_000)
    pending: list[int] = []
    batch = 0
    for op, who, amount in ops:
        user = users[who]
        f = c.vault.functions
        if op == "deposit":
            c.tx(f.deposit(amount), user)
        elif op == "request" and f.balance(user).call() >= f.pendingOf(user).call() + amount:
            receipt = c.tx(f.requestWithdrawal(amount), user)
            pending.append(events(c, receipt, "WithdrawalRequested")[0]["args"]["id"])
        elif op == "batch":
            # move `amount` from the richest user to another, serve half the pending requests
            rich = max(users, key=lambda u: f.balance(u).call() - f.pendingOf(u).call())
            moved = max(min(amount, f.balance(rich).call() - f.pendingOf(rich).call()), 0)
            other = users[(users.index(rich) + 1) % 3]
            batch += 1
            serve, pending = pending[: len(pending) // 2], pending[len(pending) // 2 :]
            settle(c, batch, {rich: -moved, other: moved}, serve, None)
        held = c.token.functions.balanceOf(c.vault.address).call()
        assert held == sum(f.balance(u).call() for u in users)
        assert f.pendingWithdrawals().call() == sum(f.pendingOf(u).call() for u in users)
    c.w3.provider.make_request("evm_revert", [snapshot["result"]])  # type: ignore[arg-type]


def test_only_the_owner_rotates_roles(chain: Chain) -> None:
    c = chain
    f = c.vault.functions
    for call in (f.setOperator(c.users[0]), f.setGuardian(c.users[0]), f.transferOwnership(c.users[0])):
        reverts("NotOwner()", lambda call=call: call.transact({"from": c.operator}))
    c.tx(f.setOperator(c.users[1]), c.owner)
    reverts(
        "NotOperator()", lambda: f.settleBatch(1, [], [], [], ZERO, MARKS, 0).transact({"from": c.operator})
    )
    c.tx(f.settleBatch(1, [], [], [], ZERO, MARKS, 0), c.users[1])


def test_the_operator_may_reject_only_a_request_beyond_what_the_proven_state_allows(chain: Chain) -> None:
    c = chain
    alice, bob = c.users[:2]
    for user in (alice, bob):
        c.fund(user, 1_000 * MICRO)
        c.tx(c.vault.functions.deposit(500 * MICRO), user)
    # alice sold options: 500 collateral on chain, 200 of equity at the marks
    tree = MerkleTree(
        [AccountState(alice, 500 * MICRO, 200 * MICRO), AccountState(bob, 500 * MICRO, 800 * MICRO)]
    )
    settle(c, 1, {}, [], tree)
    f = c.vault.functions
    small = events(c, c.tx(f.requestWithdrawal(150 * MICRO), alice), "WithdrawalRequested")[0]["args"]["id"]
    large = events(c, c.tx(f.requestWithdrawal(300 * MICRO), alice), "WithdrawalRequested")[0]["args"]["id"]
    proof = tree.proof(alice)
    reject = f.rejectWithdrawal
    reverts(
        "NotOperator()",
        lambda: reject(large, 500 * MICRO, 200 * MICRO, ZERO, proof).transact({"from": alice}),
    )
    reverts(  # a leaf that is not in the root
        "BadProof()",
        lambda: reject(large, 500 * MICRO, 100 * MICRO, ZERO, proof).transact({"from": c.operator}),
    )
    reverts(  # covered by her equity: it must be served
        "CoveredByEquity(uint256,uint256)",
        lambda: reject(small, 500 * MICRO, 200 * MICRO, ZERO, proof).transact({"from": c.operator}),
    )
    receipt = c.tx(reject(large, 500 * MICRO, 200 * MICRO, ZERO, proof), c.operator)
    (rejected,) = events(c, receipt, "WithdrawalRejected")
    assert rejected["args"]["amount"] == 300 * MICRO and rejected["args"]["covered"] == 200 * MICRO
    assert f.balance(alice).call() == 500 * MICRO  # requests hold no escrow; the small one still waits
    assert f.pendingWithdrawals().call() == 150 * MICRO and f.pendingOf(alice).call() == 150 * MICRO
    c.travel(EXIT_TIMEOUT + 1)
    reverts("AlreadyServed(uint256)", lambda: f.freeze(large).transact({"from": bob}))
    c.tx(f.freeze(small), bob)  # the one the operator had to serve and did not


def test_a_waiting_request_never_blocks_the_batch_that_debits_its_account(chain: Chain) -> None:
    # The griefing a held escrow allowed: alice asks for cash the ledger has since taken (she lost
    # after the last cut); the batch that books the loss must still settle, and the request, now beyond
    # her collateral in the new root, is refused with that root's proof.
    c = chain
    alice, bob = c.users[:2]
    for user in (alice, bob):
        c.fund(user, 1_000 * MICRO)
        c.tx(c.vault.functions.deposit(500 * MICRO), user)
    settle(c, 1, {}, [], MerkleTree([AccountState(alice, 500 * MICRO, 500 * MICRO)]))
    f = c.vault.functions
    wid = events(c, c.tx(f.requestWithdrawal(300 * MICRO), alice), "WithdrawalRequested")[0]["args"]["id"]
    reverts(  # asking again beyond the balance the first request already claims
        "InsufficientBalance(uint256,uint256)",
        lambda: f.requestWithdrawal(201 * MICRO).transact({"from": alice}),
    )
    # she lost 400 to bob; her long options still count 600 of equity, her collateral is 100
    after = MerkleTree(
        [AccountState(alice, 100 * MICRO, 700 * MICRO), AccountState(bob, 900 * MICRO, 900 * MICRO)]
    )
    settle(c, 2, {alice: -400 * MICRO, bob: 400 * MICRO}, [], after)
    assert f.balance(alice).call() == 100 * MICRO
    reverts(  # serving it would take cash she no longer has
        "NegativeBalance(address)",
        lambda: f.settleBatch(3, [], [], [wid], after.root, MARKS, 0).transact({"from": c.operator}),
    )
    proof = after.proof(alice)
    receipt = c.tx(f.rejectWithdrawal(wid, 100 * MICRO, 700 * MICRO, ZERO, proof), c.operator)
    # what she may withdraw is her collateral, capped at her equity: 100
    assert events(c, receipt, "WithdrawalRejected")[0]["args"]["covered"] == 100 * MICRO
    assert f.pendingOf(alice).call() == 0 and f.balance(alice).call() == 100 * MICRO
    c.travel(EXIT_TIMEOUT + 1)
    reverts("AlreadyServed(uint256)", lambda: f.freeze(wid).transact({"from": bob}))
