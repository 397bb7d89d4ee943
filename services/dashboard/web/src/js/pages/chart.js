// Chart per symbol and timeframe: candlesticks with volume, the trader's indicators (EMAs of its
// ema_cross params), entry/exit markers, and the stop/take-profit lines of open positions,
// redrawn as they are modified. lightweight-charts v5 (standalone build served from /vendor).
import { api } from "../api.js";
import { price, priceDigits } from "../format.js";
import * as stream from "../stream.js";
import { el } from "../ui.js";

const TF_SECONDS = { "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "2h": 7200, "4h": 14400, "6h": 21600, "8h": 28800, "12h": 43200, "1d": 86400 };
let library = null;

function loadLibrary() {
  library ??= new Promise((resolve, reject) => {
    if (window.LightweightCharts) return resolve(window.LightweightCharts);
    const s = document.createElement("script");
    s.src = "/vendor/lightweight-charts.standalone.production.js";
    s.onload = () => resolve(window.LightweightCharts);
    s.onerror = () => reject(new Error("chart library failed to load"));
    document.head.append(s);
  });
  return library;
}

function ema(candles, period) {
  const k = 2 / (period + 1);
  let value = null;
  return candles.map((c, i) => {
    value = value === null ? c.close : c.close * k + value * (1 - k);
    return i >= period - 1 ? { time: c.time, value } : { time: c.time };
  });
}

function colors() {
  const css = getComputedStyle(document.documentElement);
  const v = (name) => css.getPropertyValue(name).trim();
  return { bg: v("--panel"), text: v("--text"), grid: v("--border"), up: v("--up"), down: v("--down"), accent: v("--accent"), warn: v("--warn"), muted: v("--muted") };
}

export async function render(root, { args }) {
  const options = await api.get("/api/session/options");
  if (!options.chart_library) {
    root.append(el("h1", {}, "Chart"), el("div", { class: "panel warn" },
      "The chart library is not built yet. With internet access, run `uv run python -m robson_dashboard.assets` (or restart the dashboard), then reload."));
    return null;
  }
  const LWC = await loadLibrary();
  const feed = await api.svc("signal", "feed").catch(() => ({}));
  const series = feed.last_event_time || {};
  const symbols = Object.keys(series).sort();
  const symbol = args[0] && symbols.includes(args[0]) ? args[0] : symbols[0];
  const tfs = symbol ? Object.keys(series[symbol] || {}) : [];
  const timeframe = args[1] && tfs.includes(args[1]) ? args[1] : tfs[0];
  const pick = (s, tf) => { location.hash = `#/chart/${s}/${tf ?? ""}`; };
  const symbolSelect = el("select", { id: "chart-symbol", onchange: (e) => pick(e.target.value) }, symbols.map((s) => el("option", { value: s, selected: s === symbol }, s)));
  const tfSelect = el("select", { id: "chart-timeframe", onchange: (e) => pick(symbol, e.target.value) }, tfs.map((t) => el("option", { value: t, selected: t === timeframe }, t)));
  const legend = el("span", { class: "muted", id: "chart-legend" });
  const box = el("div", { class: "chart", id: "chart" });
  root.append(el("h1", {}, "Chart"), el("div", { class: "chart-tools" }, symbolSelect, tfSelect, legend), el("div", { class: "panel" }, box));
  if (!symbol || !timeframe) { box.replaceWith(el("p", { class: "muted" }, "No market data yet.")); return null; }

  const step = TF_SECONDS[timeframe] || 300;
  const last = new Date(series[symbol][timeframe]).getTime() / 1000;
  const start = new Date((last - step * 600) * 1000).toISOString();
  const [raw, traders, positions] = await Promise.all([
    api.svc("signal", "candles", { symbol, timeframe, start, limit: 1000 }),
    api.svc("signal", "traders").catch(() => []),
    api.svc("position", "positions", { symbol, limit: 500 }).catch(() => []),
  ]);
  const candles = raw.map((c) => ({ time: Math.floor(new Date(c.open_time).getTime() / 1000), open: +c.open, high: +c.high, low: +c.low, close: +c.close, volume: +c.volume }));
  const c = colors();
  const chart = LWC.createChart(box, { autoSize: true, layout: { background: { type: "solid", color: c.bg }, textColor: c.text },
    grid: { vertLines: { color: c.grid }, horzLines: { color: c.grid } }, timeScale: { timeVisible: true, secondsVisible: false },
    localization: { priceFormatter: (p) => price(symbol, p) } });
  const digits = priceDigits(symbol);
  const candleSeries = chart.addSeries(LWC.CandlestickSeries, { upColor: c.up, downColor: c.down, wickUpColor: c.up, wickDownColor: c.down, borderVisible: false,
    priceFormat: { type: "price", precision: digits, minMove: 10 ** -digits } });
  candleSeries.setData(candles);
  const volume = chart.addSeries(LWC.HistogramSeries, { priceScaleId: "volume", priceFormat: { type: "volume" }, lastValueVisible: false, priceLineVisible: false });
  volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
  volume.setData(candles.map((k) => ({ time: k.time, value: k.volume, color: k.close >= k.open ? `${c.up}66` : `${c.down}66` })));

  const trader = [...traders].sort((a, b) => Number(b.enabled) - Number(a.enabled))
    .find((t) => (t.symbols || []).includes(symbol) && t.params && t.params.fast && t.params.slow);
  const periods = trader ? [Number(trader.params.fast), Number(trader.params.slow)] : [20];
  periods.forEach((period, i) => {
    const line = chart.addSeries(LWC.LineSeries, { color: i ? c.warn : c.accent, lineWidth: 1, priceLineVisible: false, lastValueVisible: false, title: `EMA ${period}` });
    line.setData(ema(candles, period));
  });
  legend.textContent = `${candles.length} candles · EMA ${periods.join(" / ")}${trader ? ` (${trader.trader_id})` : ""}`;

  const snap = (iso) => { const t = Math.floor(new Date(iso).getTime() / 1000); return t - (t % step); };
  const markers = [];
  for (const p of positions) {
    const long = p.side === "LONG";
    if (p.opened_at && p.entry_price) markers.push({ time: snap(p.opened_at), position: long ? "belowBar" : "aboveBar", color: c.accent, shape: long ? "arrowUp" : "arrowDown", text: `${p.side} ${price(symbol, p.entry_price)}` });
    for (const x of p.closes || []) markers.push({ time: snap(x.at), position: long ? "aboveBar" : "belowBar", color: Number(x.realized_pnl) >= 0 ? c.up : c.down, shape: "circle", text: `${x.reason} ${price(symbol, x.price)}` });
  }
  const first = candles[0]?.time ?? 0;
  const shown = markers.filter((m) => m.time >= first).sort((a, b) => a.time - b.time);
  LWC.createSeriesMarkers(candleSeries, shown);
  box.dataset.markers = String(shown.length);

  let lines = [];
  function drawLines() {
    for (const l of lines) candleSeries.removePriceLine(l);
    lines = [];
    const open = [...stream.state.positions.values()].filter((p) => p.symbol === symbol && ["OPEN", "PARTIALLY_CLOSED", "CLOSING"].includes(p.status));
    for (const p of open) {
      if (p.entry_price) lines.push(candleSeries.createPriceLine({ price: +p.entry_price, color: c.muted, lineWidth: 1, lineStyle: LWC.LineStyle.Dotted, axisLabelVisible: true, title: "entry" }));
      if (p.stop_loss) lines.push(candleSeries.createPriceLine({ price: +p.stop_loss, color: c.down, lineWidth: 2, lineStyle: LWC.LineStyle.Dashed, axisLabelVisible: true, title: "SL" }));
      (p.take_profits || []).forEach((t, i) => { if (!t.filled && !t.canceled) lines.push(candleSeries.createPriceLine({ price: +t.price, color: c.up, lineWidth: 1, lineStyle: LWC.LineStyle.Dashed, axisLabelVisible: true, title: `TP${i + 1}` })); });
    }
    box.dataset.lines = String(lines.length);
    box.dataset.stops = open.map((p) => p.stop_loss).join(" ");
  }
  drawLines();
  chart.timeScale().fitContent();

  let forming = null;
  const offs = [
    stream.on("snapshot", drawLines),
    stream.on("position", ({ position: p }) => { if (p.symbol === symbol) drawLines(); }),
    stream.on("tick", (t) => {
      if (t.symbol !== symbol) return;
      const at = Math.floor(new Date(t.at).getTime() / 1000);
      const open = at - (at % step);
      const lastBar = candles.at(-1);
      if (lastBar && open <= lastBar.time) return;
      const p = Number(t.price);
      forming = forming && forming.time === open ? { ...forming, high: Math.max(forming.high, p), low: Math.min(forming.low, p), close: p } : { time: open, open: p, high: p, low: p, close: p };
      candleSeries.update(forming);
    }),
  ];
  const retheme = () => { const k = colors(); chart.applyOptions({ layout: { background: { type: "solid", color: k.bg }, textColor: k.text }, grid: { vertLines: { color: k.grid }, horzLines: { color: k.grid } } }); };
  window.addEventListener("themechange", retheme);
  return () => { offs.forEach((off) => off()); window.removeEventListener("themechange", retheme); chart.remove(); };
}
