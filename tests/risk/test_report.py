"""Margin reports: content, files (JSON, CSV, HTML), the offline what-if and its CLI, the levels cache."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from risk.levels_cache import LevelsCache
from risk.report import account_report, venue_report
from risk.report_files import to_csv, to_html, write_report
from risk.whatif import PortfolioError, report
from tests.risk.harness import NOW, RiskHarness
from tests.risk.test_engine import sell_call
from venue.cli import app

EXAMPLE = Path(__file__).parents[2] / "examples" / "portfolio.json"
MICRO = 1_000_000


def short_calls() -> RiskHarness:
    h = RiskHarness(funds={"A": 40_000 * MICRO, "MM": 10**13})
    h.mark(95_000.0)
    sell_call(h, "A", 100)
    sell_call(h, "A", 50, strike=105_000)
    return h


def test_account_report_reconciles_with_the_engine() -> None:
    h = short_calls()
    rep = account_report(h.engine, h.seq.ledger.accounts["A"], NOW, stale=["ETH"])
    equity, im, mm = h.state("A")
    assert (rep["equity"], rep["initial_margin"], rep["maintenance_margin"]) == (
        equity / MICRO, im / MICRO, mm / MICRO,
    )  # fmt: skip
    assert rep["available_funds"] == pytest.approx((equity - im) / MICRO)
    assert rep["mm_usage"] == pytest.approx(mm / equity, abs=1e-6)
    btc = rep["underlyings"][0]
    worst = btc["worst_scenario"]
    # the loss is the weighted P&L rounded up to the micro-USDC
    assert btc["scenarios"][worst["index"]]["weighted_pnl"] == pytest.approx(-worst["loss"], abs=2e-6)
    # Each position's contribution to the worst case adds up to it.
    total = sum(p["worst_case_contribution"] for p in rep["positions"])
    assert total == pytest.approx(-worst["loss"], abs=1e-3)
    assert btc["greeks"]["delta"] == pytest.approx(sum(p["delta"] for p in rep["positions"]))
    assert sum(g["vega"] for g in btc["greeks_by_expiry"].values()) == pytest.approx(btc["greeks"]["vega"])
    assert btc["liquidation"]["above"] > 95_000 and btc["liquidation"]["below"] is None
    assert "stale marks: ETH" in rep["warnings"]
    assert len(btc["margin_vs_spot"]) == 41


def test_venue_report_ranks_by_usage_and_shows_open_interest_and_the_fund() -> None:
    h = short_calls()
    accounts = list(h.seq.ledger.accounts.values())
    rep = venue_report(h.engine, accounts, NOW, "insurance")
    usages = [r["mm_usage"] for r in rep["accounts"]]
    assert usages == sorted(usages, reverse=True) and rep["accounts"][0]["account"] == "A"
    assert rep["open_interest"][h.symbol(100_000)] == 1.0
    assert rep["insurance_fund"] == 0.0 and rep["parameters_version"]


def test_report_files_carry_the_same_numbers(tmp_path: Path) -> None:
    h = short_calls()
    rep = account_report(h.engine, h.seq.ledger.accounts["A"], NOW)
    paths = write_report(rep, tmp_path / "out")
    assert [p.name for p in paths] == ["report.json", "report.csv", "report.html"]
    assert json.loads(paths[0].read_text())["equity"] == rep["equity"]
    rows = list(csv.reader(io.StringIO(to_csv(rep))))
    assert ["summary", "equity", str(rep["equity"])] in rows
    assert sum(1 for r in rows if len(r) > 1 and r[1] == h.symbol(105_000)) == 1
    page = to_html(rep)
    assert page.count('class="plotly-graph-div"') == 3  # margin vs spot, heatmap, Greeks by expiry
    assert "Plotly.newPlot" in page and '<script src="http' not in page  # plotly.js embedded: offline


def test_what_if_report_of_the_example_portfolio() -> None:
    rep = report(EXAMPLE)
    assert rep["account"] == "fund-a" and rep["margin_mode"] == "portfolio"
    assert rep["collateral"] == 250_000.0 and math.isfinite(rep["equity"])
    assert {u["underlying"] for u in rep["underlyings"]} == {"BTC", "ETH"}
    assert {p["symbol"] for p in rep["positions"]} >= {"BTC-PERP", "ETH-25DEC26-3500-C"}
    assert 0 < rep["maintenance_margin"] < rep["initial_margin"]
    # A BTC-26MAR27 smile is given but BTC-25DEC26 and the strike 110000 are priced off the file too.
    assert not [w for w in rep["warnings"] if "default vol" in w]


def test_what_if_refuses_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    data = json.loads(EXAMPLE.read_text())
    data["positions"].append({"symbol": "BTC-25DEC26-100000-X", "quantity": 1})
    bad.write_text(json.dumps(data))
    with pytest.raises(PortfolioError, match="unknown instrument"):
        report(bad)
    data["positions"][-1] = {"symbol": "BTC-PERP", "quantity": 0.0001}
    bad.write_text(json.dumps(data))
    with pytest.raises(PortfolioError, match="whole number of lots"):
        report(bad)


def test_cli_writes_the_three_files(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["risk", "report", "--portfolio", str(EXAMPLE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["report.csv", "report.html", "report.json"]
    shutil.rmtree(out)
    missing = CliRunner().invoke(
        app, ["risk", "report", "--portfolio", str(tmp_path / "no.json"), "--out", "x"]
    )
    assert missing.exit_code != 0


def test_levels_cache_refreshes_accounts_near_the_edge_only() -> None:
    h = short_calls()
    cache = LevelsCache(h.engine, near_edge=0.4)
    refreshed = cache.refresh("BTC")
    equity, _, mm = h.state("A")
    assert mm / equity >= 0.4 and refreshed == 1  # A; MM (long the calls) is far from the edge
    assert ("A", "BTC") in cache.venue_levels()
    first = cache.get(h.seq.ledger.accounts["A"], "BTC")
    assert cache.get(h.seq.ledger.accounts["A"], "BTC") is first  # same mark time: cached
    h.mark(96_000.0)
    assert cache.venue_levels() == {}  # stale after the next mark update
    assert cache.get(h.seq.ledger.accounts["A"], "BTC") is not first


def test_levels_refresh_stops_when_its_time_budget_is_spent() -> None:
    h = short_calls()
    everyone = LevelsCache(h.engine, near_edge=0.0)
    assert everyone.refresh("BTC") == 2  # A and MM hold BTC positions
    hurried = LevelsCache(h.engine, near_edge=0.0, time_budget_s=0.0)
    assert hurried.refresh("BTC") == 1  # the account nearest the edge first, then out of time
    assert ("A", "BTC") in hurried.venue_levels()
