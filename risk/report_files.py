"""Margin reports as files: CSV (sections a spreadsheet opens) and a self-contained HTML page whose
charts (margin vs spot move, scenario heatmap, Greeks by expiry) are drawn by plotly, offline: the
page embeds plotly.js, so it opens on a machine with no network.
"""

from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

SUMMARY_FIELDS = (
    "account", "margin_mode", "parameters_version", "as_of", "equity", "collateral", "initial_margin",
    "maintenance_margin", "open_orders_margin", "available_funds", "im_usage", "mm_usage",
)  # fmt: skip
POSITION_FIELDS = (
    "underlying", "symbol", "quantity", "mark", "value", "average_entry_price", "implied_vol",
    "worst_case_contribution", "delta", "delta_usd", "gamma", "vega", "theta", "rho",
)  # fmt: skip


def to_csv(report: dict[str, Any]) -> str:
    """Sections separated by a blank line: summary, per-underlying margin, positions, scenarios, warnings."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["section", "field", "value"])
    for field in SUMMARY_FIELDS:
        w.writerow(["summary", field, report.get(field)])
    w.writerow([])
    w.writerow(["underlying", "index", "mark_time", "risk_part", "worst_scenario", "worst_loss",
                "liquidation_below", "liquidation_above"])  # fmt: skip
    for u in report["underlyings"]:
        liq = u["liquidation"] or {}
        w.writerow([u["underlying"], u["index"], u["mark_time"], u["risk_part"], u["worst_scenario"]["label"],
                    u["worst_scenario"]["loss"], liq.get("below"), liq.get("above")])  # fmt: skip
    w.writerow([])
    w.writerow(POSITION_FIELDS)
    for p in report["positions"]:
        w.writerow([p[f] for f in POSITION_FIELDS])
    w.writerow([])
    w.writerow(["underlying", "scenario", "spot_move", "vol_move", "weight", "pnl", "weighted_pnl"])
    for u in report["underlyings"]:
        for s in u["scenarios"]:
            w.writerow([u["underlying"], s["label"], s["spot_move"], s["vol_move"], s["weight"], s["pnl"],
                        s["weighted_pnl"]])  # fmt: skip
    w.writerow([])
    w.writerow(["warning"])
    for warning in report["warnings"]:
        w.writerow([warning])
    return out.getvalue()


def _figures(u: dict[str, Any]) -> list[go.Figure]:
    name = u["underlying"]
    curve = u["margin_vs_spot"]
    moves = [c["spot_move"] * 100 for c in curve]
    spot = go.Figure()
    spot.add_scatter(x=moves, y=[c["equity"] for c in curve], name="equity")
    spot.add_scatter(x=moves, y=[c["maintenance"] for c in curve], name="maintenance margin")
    spot.update_layout(title=f"{name}: equity and maintenance margin vs spot move", xaxis_title="spot move %",
                       yaxis_title="USD")  # fmt: skip
    core = [s for s in u["scenarios"] if s["weight"] == 1.0]
    spots = sorted({s["spot_move"] for s in core})
    vols = ["down", "same", "up"]
    z = [[next((s["pnl"] for s in core if s["spot_move"] == x and s["vol_move"] == v), None) for x in spots]
         for v in vols]  # fmt: skip
    heat = go.Figure(go.Heatmap(z=z, x=[f"{x:+.0%}" for x in spots], y=[f"vol {v}" for v in vols],
                                colorscale="RdYlGn", zmid=0, colorbar={"title": "P&L USD"}))  # fmt: skip
    heat.update_layout(title=f"{name}: scenario P&L (core grid; tails in the table)")
    expiries = list(u["greeks_by_expiry"])
    greeks = go.Figure()
    for g in ("delta", "vega", "theta"):
        greeks.add_bar(x=expiries, y=[u["greeks_by_expiry"][e][g] for e in expiries], name=g)
    greeks.update_layout(title=f"{name}: Greeks by expiry", barmode="group", xaxis_type="category")
    return [spot, heat, greeks]


def to_html(report: dict[str, Any]) -> str:
    """One self-contained page: summary, warnings, charts per underlying, positions and scenarios."""
    parts = []
    first = True
    for u in report["underlyings"]:
        for fig in _figures(u):
            parts.append(pio.to_html(fig, full_html=False, include_plotlyjs=first, default_height=380))
            first = False
    summary = "".join(f"<tr><th>{html.escape(f)}</th><td>{html.escape(str(report.get(f)))}</td></tr>"
                      for f in SUMMARY_FIELDS)  # fmt: skip
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(p[f]))}</td>" for f in POSITION_FIELDS) + "</tr>"
                   for p in report["positions"])  # fmt: skip
    head = "".join(f"<th>{f}</th>" for f in POSITION_FIELDS)
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in report["warnings"]) or "<li>none</li>"
    title = f"Margin report: {html.escape(report['account'])}"
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}} th{{background:#f3f3f3}}</style></head>
<body><h1>{title}</h1>
<table id="summary">{summary}</table>
<h2>Warnings</h2><ul id="warnings">{warnings}</ul>
<h2>Charts</h2><div id="charts">{"".join(parts)}</div>
<h2>Positions</h2><table id="positions"><tr>{head}</tr>{rows}</table>
<h2>Data</h2><script type="application/json" id="report-data">{html.escape(json.dumps(report))}</script>
</body></html>
"""


def write_report(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write report.json, report.csv and report.html into ``out_dir`` (created); returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "report.json", out_dir / "report.csv", out_dir / "report.html"]
    paths[0].write_text(json.dumps(report, indent=2) + "\n")
    paths[1].write_text(to_csv(report))
    paths[2].write_text(to_html(report))
    return paths
