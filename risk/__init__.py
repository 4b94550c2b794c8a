"""Options pricing, Greeks, marks and vol surfaces, portfolio margin, liquidations, margin reports.

Plugs into the sequencer through ``matching.risk_check.RiskCheck`` (wired in ``venue``).
"""
