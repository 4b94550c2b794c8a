// The risk officer's dashboard: the venue ranking and one account's drill-down, live over /ws.
// Data: risk@all (ranking), risk@{account} (margin report), liquidations@all (the feed), each needing a
// risk officer's key; GET /risk/... answers the first paint if the socket is slow to come up.
"use strict";

const state = {
  key: "",
  socket: null,
  ranking: null,
  report: null,
  selected: null,
  underlying: null,
  sort: { key: "mm_usage", asc: false },
  rendered: { heatmap: false, curve: false, greeks: false },
};
const $ = (id) => document.getElementById(id);
const usd = (x) => (x === null || x === undefined ? "-" : Number(x).toLocaleString("en-US", { maximumFractionDigits: 0 }));
const pct = (x) => (x === null || x === undefined ? "-" : (100 * x).toFixed(1) + "%");
const DARK = {
  paper_bgcolor: "#161d26", plot_bgcolor: "#161d26", font: { color: "#d8dee6", size: 11 },
  margin: { l: 56, r: 16, t: 32, b: 40 },
};
const PLOT_CONFIG = { displayModeBar: false, responsive: true };

function setStatus(text, kind) {
  const el = $("status");
  el.textContent = text;
  el.className = "status " + (kind || "");
}

async function get(path) {
  const answer = await fetch(path, { headers: { "X-API-Key": state.key } });
  if (!answer.ok) {
    const body = await answer.json().catch(() => ({}));
    throw new Error(body.text || answer.statusText);
  }
  return answer.json();
}

// ---- the venue ranking ------------------------------------------------------------------------

function sortedRows() {
  const { key, asc } = state.sort;
  const rows = [...(state.ranking ? state.ranking.accounts : [])];
  const value = (r) => {
    const v = r[key];
    if (v === null || v === undefined) return asc ? Infinity : -Infinity; // unknowns sort last
    return key === "nearest_liquidation_pct" ? Math.abs(v) : v; // a distance, whichever side
  };
  rows.sort((a, b) => {
    const x = value(a), y = value(b);
    const order = typeof x === "string" ? x.localeCompare(y) : x - y;
    return asc ? order : -order;
  });
  return rows;
}

function renderRanking() {
  const report = state.ranking;
  if (!report) return;
  $("as-of").textContent = "as of " + report.as_of;
  $("n-accounts").textContent = report.accounts.length;
  $("fund").textContent = usd(report.insurance_fund);
  $("params").textContent = report.parameters_version;
  $("stale").textContent = report.stale_marks.length ? report.stale_marks.join(", ") : "none";
  for (const th of document.querySelectorAll("#accounts th")) {
    th.classList.toggle("sorted", th.dataset.key === state.sort.key);
    th.classList.toggle("asc", th.dataset.key === state.sort.key && state.sort.asc);
  }
  const body = document.querySelector("#accounts tbody");
  body.replaceChildren(
    ...sortedRows().map((r) => {
      const tr = document.createElement("tr");
      tr.dataset.account = r.account;
      const usage = r.mm_usage;
      const near = r.nearest_liquidation_pct;
      if (usage !== null && (usage >= 0.8 || (near !== null && Math.abs(near) < 0.05))) tr.className = "danger";
      else if (usage !== null && usage >= 0.5) tr.className = "warn";
      if (r.account === state.selected) tr.classList.add("selected");
      const cells = [
        [r.account, ""], [r.margin_mode, ""], [usd(r.equity), "num"], [usd(r.initial_margin), "num"],
        [usd(r.maintenance_margin), "num"], [pct(usage), "num usage"], [near === null ? "-" : pct(near), "num distance"],
      ];
      for (const [text, cls] of cells) {
        const td = document.createElement("td");
        td.textContent = text;
        td.className = cls;
        tr.appendChild(td);
      }
      tr.addEventListener("click", () => select(r.account));
      return tr;
    }),
  );
  document.body.dataset.ranking = "ready";
}

function sortBy(key) {
  // names A-Z and distances nearest first; amounts and usage highest first
  const first = key === "account" || key === "nearest_liquidation_pct";
  state.sort = state.sort.key === key ? { key, asc: !state.sort.asc } : { key, asc: first };
  renderRanking();
}

// ---- one account ------------------------------------------------------------------------------

function select(account) {
  const previous = state.selected;
  state.selected = account;
  state.report = null;
  if (previous && previous !== account) send({ op: "unsubscribe", channel: "risk@" + previous });
  send({ op: "subscribe", channel: "risk@" + account });
  $("detail").hidden = false;
  $("detail-account").textContent = account;
  renderRanking();
  if (!state.socket || state.socket.readyState !== WebSocket.OPEN) {
    get("/risk/accounts/" + encodeURIComponent(account)).then(showReport, (e) => setStatus(e.message, "down"));
  }
}

function showReport(report) {
  if (report.account !== state.selected) return;
  state.report = report;
  const names = report.underlyings.map((u) => u.underlying);
  if (!names.includes(state.underlying)) state.underlying = names[0] || null;
  const picker = $("underlying");
  picker.replaceChildren(...names.map((n) => new Option(n, n, false, n === state.underlying)));
  picker.hidden = names.length < 2;
  renderReport();
}

function card(label, value) {
  const div = document.createElement("div");
  div.className = "card";
  div.innerHTML = '<span class="label"></span><span class="value"></span>';
  div.children[0].textContent = label;
  div.children[1].textContent = value;
  return div;
}

function renderReport() {
  const r = state.report;
  if (!r) return;
  $("detail-cards").replaceChildren(
    card("Equity", usd(r.equity)), card("Collateral", usd(r.collateral)), card("IM", usd(r.initial_margin)),
    card("MM", usd(r.maintenance_margin)), card("Available", usd(r.available_funds)),
    card("MM usage", pct(r.mm_usage)), card("Mode", r.margin_mode),
  );
  const book = r.underlyings.find((u) => u.underlying === state.underlying);
  const lv = book && book.liquidation;
  $("levels").textContent = !book ? "no positions" : !lv ? book.underlying + ": no liquidation level" :
    `${book.underlying} index ${usd(book.index)}: liquidation below ${lv.below ? usd(lv.below) + " (" + pct(lv.below_pct) + ")" : "none"}, ` +
    `above ${lv.above ? usd(lv.above) + " (" + pct(lv.above_pct) + ")" : "none"}${lv.already_below ? " (below maintenance now)" : ""}; ` +
    `worst scenario ${book.worst_scenario.label}: ${usd(book.worst_scenario.loss)}`;
  document.querySelector("#positions tbody").replaceChildren(
    ...r.positions.map((p) => {
      const tr = document.createElement("tr");
      for (const [text, cls] of [
        [p.symbol, ""], [p.quantity, "num"], [usd(p.mark), "num"], [usd(p.value), "num"],
        [p.implied_vol === null ? "-" : pct(p.implied_vol), "num"], [usd(p.worst_case_contribution), "num"],
      ]) {
        const td = document.createElement("td");
        td.textContent = text;
        td.className = cls;
        tr.appendChild(td);
      }
      return tr;
    }),
  );
  $("warnings").replaceChildren(...r.warnings.map((w) => Object.assign(document.createElement("li"), { textContent: w })));
  if (book) drawCharts(book);
}

function drawCharts(book) {
  // Scenario heatmap: spot moves across, vol moves down, P&L (USD) in colour.
  const scenarios = book.scenarios;
  const moves = [...new Set(scenarios.map((s) => s.spot_move))].sort((a, b) => a - b);
  const vols = ["down", "same", "up"];
  const z = vols.map((v) => moves.map((m) => {
    const s = scenarios.find((x) => x.vol_move === v && x.spot_move === m);
    return s ? s.pnl : null;
  }));
  const heat = [{
    type: "heatmap", x: moves.map((m) => (100 * m).toFixed(0) + "%"), y: vols.map((v) => "vol " + v), z,
    colorscale: [[0, "#c62828"], [0.5, "#263241"], [1, "#2e7d32"]], zmid: 0, hoverongaps: false,
    colorbar: { title: { text: "P&L" }, thickness: 10 },
  }];
  plot("heatmap", heat, { ...DARK, title: { text: "Scenario P&L (USD)" }, xaxis: { type: "category", title: { text: "spot move" } } });

  // Equity and maintenance margin against spot: where the lines cross is the liquidation level.
  const curve = book.margin_vs_spot;
  const x = curve.map((p) => book.index * (1 + p.spot_move));
  plot("curve", [
    { x, y: curve.map((p) => p.equity), name: "equity", mode: "lines", line: { color: "#4fc3f7", width: 2 } },
    { x, y: curve.map((p) => p.maintenance), name: "maintenance", mode: "lines", line: { color: "#ef5350", width: 2, dash: "dot" } },
  ], {
    ...DARK, title: { text: "Equity and MM vs spot (USD)" }, xaxis: { title: { text: book.underlying + " index" } },
    legend: { orientation: "h", y: -0.25 },
    shapes: [{ type: "line", x0: book.index, x1: book.index, yref: "paper", y0: 0, y1: 1, line: { color: "#8593a3", dash: "dash" } }],
  });

  // Greeks by expiry, one panel per Greek (their scales differ by orders of magnitude).
  const expiries = Object.keys(book.greeks_by_expiry);
  const greeks = [["delta", "delta (coins)"], ["gamma", "gamma"], ["vega", "vega / vol pt"], ["theta", "theta / day"]];
  const traces = greeks.map(([g, label], i) => ({
    type: "bar", x: expiries, y: expiries.map((e) => book.greeks_by_expiry[e][g]), name: label,
    xaxis: "x" + (i ? i + 1 : ""), yaxis: "y" + (i ? i + 1 : ""), marker: { color: ["#4fc3f7", "#ab47bc", "#ffb300", "#ef5350"][i] },
  }));
  const layout = { ...DARK, title: { text: "Greeks by expiry" }, grid: { rows: 1, columns: 4, pattern: "independent" }, showlegend: false };
  greeks.forEach(([, label], i) => {
    layout["xaxis" + (i ? i + 1 : "")] = { type: "category", title: { text: label } };
  });
  plot("greeks", traces, layout);
}

function plot(id, data, layout) {
  Plotly.react(id, data, layout, PLOT_CONFIG).then(() => {
    state.rendered[id] = true;
    if (state.rendered.heatmap && state.rendered.curve && state.rendered.greeks) document.body.dataset.charts = "ready";
  });
}

// ---- the liquidation feed ---------------------------------------------------------------------

function liquidation(event) {
  const li = document.createElement("li");
  const time = new Date().toISOString().slice(11, 19);
  const detail = {
    LiquidationStarted: (e) => `${e.account} equity ${usd(e.equity_micro / 1e6)} < MM ${usd(e.maintenance_micro / 1e6)}`,
    LiquidationStep: (e) => `${e.account} ${e.symbol}: ${e.filled_lots} lots closed, fee ${usd(e.fee_micro / 1e6)}`,
    PositionTransferred: (e) => `${e.from_account} -> ${e.to_account} ${e.symbol} ${e.qty_lots} lots`,
    LiquidationEnded: (e) => `${e.account} equity ${usd(e.equity_micro / 1e6)}, MM ${usd(e.maintenance_micro / 1e6)}` +
      (e.shortfall_micro ? `, shortfall ${usd(e.shortfall_micro / 1e6)}` : ""),
  }[event.type];
  li.innerHTML = '<span class="t"></span><span class="kind"></span><span class="what"></span>';
  li.children[0].textContent = time;
  li.children[1].textContent = event.type;
  li.children[2].textContent = detail ? detail(event) : JSON.stringify(event);
  const feed = $("liquidations");
  feed.prepend(li);
  while (feed.children.length > 200) feed.lastChild.remove();
}

// ---- the socket -------------------------------------------------------------------------------

function send(message) {
  if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify(message));
}

function connect() {
  if (state.socket) state.socket.close();
  const socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  state.socket = socket;
  setStatus("connecting", "");
  socket.onopen = () => socket.send(JSON.stringify({ op: "auth", key: state.key }));
  socket.onmessage = (message) => {
    const m = JSON.parse(message.data);
    if (m.op === "authenticated") {
      setStatus("live", "live");
      send({ op: "subscribe", channel: "risk@all" });
      send({ op: "subscribe", channel: "liquidations@all" });
      if (state.selected) send({ op: "subscribe", channel: "risk@" + state.selected });
    } else if (m.op === "error") {
      setStatus(m.text, "down");
    } else if (m.channel === "risk@all") {
      state.ranking = m.data;
      renderRanking();
    } else if (m.channel && m.channel.startsWith("risk@")) {
      showReport(m.data);
    } else if (m.channel === "liquidations@all") {
      liquidation(m.data);
    }
  };
  socket.onclose = () => {
    if (state.socket !== socket) return;
    setStatus("disconnected: retrying", "down");
    setTimeout(connect, 2000);
  };
}

function start(key) {
  state.key = key;
  sessionStorage.setItem("venue-risk-key", key);
  get("/risk/accounts").then((r) => { state.ranking = r; renderRanking(); }, (e) => setStatus(e.message, "down"));
  connect();
}

for (const th of document.querySelectorAll("#accounts th")) th.addEventListener("click", () => sortBy(th.dataset.key));
$("underlying").addEventListener("change", (e) => { state.underlying = e.target.value; renderReport(); });
$("login").addEventListener("submit", (e) => { e.preventDefault(); start($("key").value.trim()); });
const fragment = new URLSearchParams(location.hash.slice(1));
const initial = fragment.get("key") || sessionStorage.getItem("venue-risk-key");
if (initial) {
  start(initial);
  if (fragment.get("account")) select(fragment.get("account"));
}
