"""Netting, batch building, the chain client, deposits, withdrawals, reconciliation and exit proofs."""
