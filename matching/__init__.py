"""Instruments, order books, matching, the sequencer and the ledger: the deterministic core.

Imports ``config`` only. Front doors talk to it through commands (``matching.commands``) and listen to
its events (``matching.events``).
"""
