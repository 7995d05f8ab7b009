/** The report's one stylesheet: light and dark schemes (prefers-color-scheme, or the page's toggle), print rules. */
export const CSS = `
:root {
  color-scheme: light dark;
  --bg: #ffffff; --fg: #1b1f24; --muted: #5a6370; --line: #d6dbe1; --panel: #f5f7f9; --accent: #0b5cad;
  --pass: #1a7f37; --pass-bg: #dff3e4; --fail: #b42318; --fail-bg: #fde3e0; --finding: #8a5a00; --finding-bg: #fff1cc;
  --skip: #5a6370; --skip-bg: #eef0f3; --none: #a0a8b3; --changed: #7b2fbf;
  --c1: #0b5cad; --c2: #c2410c; --c3: #15803d; --c4: #7e22ce; --c5: #be185d; --c6: #0e7490; --c7: #4d7c0f; --c8: #92400e;
}
@media (prefers-color-scheme: dark) {
  :root:not([data-theme="light"]) {
    --bg: #0f1318; --fg: #e3e7ec; --muted: #9aa4b1; --line: #2b333d; --panel: #171d24; --accent: #6cb2ff;
    --pass: #56d37a; --pass-bg: #12301d; --fail: #ff8a7a; --fail-bg: #3d1713; --finding: #f3c350; --finding-bg: #392c0b;
    --skip: #9aa4b1; --skip-bg: #1d242c; --none: #56606b; --changed: #c89bff;
    --c1: #6cb2ff; --c2: #ff9f6b; --c3: #5fd68a; --c4: #c49bff; --c5: #ff8dc0; --c6: #5fd0e6; --c7: #a9d95c; --c8: #e8b26a;
  }
}
:root[data-theme="dark"] {
  --bg: #0f1318; --fg: #e3e7ec; --muted: #9aa4b1; --line: #2b333d; --panel: #171d24; --accent: #6cb2ff;
  --pass: #56d37a; --pass-bg: #12301d; --fail: #ff8a7a; --fail-bg: #3d1713; --finding: #f3c350; --finding-bg: #392c0b;
  --skip: #9aa4b1; --skip-bg: #1d242c; --none: #56606b; --changed: #c89bff;
  --c1: #6cb2ff; --c2: #ff9f6b; --c3: #5fd68a; --c4: #c49bff; --c5: #ff8dc0; --c6: #5fd0e6; --c7: #a9d95c; --c8: #e8b26a;
}
:root[data-theme="light"] { color-scheme: light; }
:root[data-theme="dark"] { color-scheme: dark; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
header.top { padding: 16px 24px 8px; border-bottom: 1px solid var(--line); }
header.top h1 { margin: 0 0 4px; font-size: 22px; }
main { padding: 8px 24px 48px; max-width: 1600px; }
h2 { font-size: 19px; margin: 28px 0 8px; padding-top: 8px; border-top: 1px solid var(--line); }
h3 { font-size: 16px; margin: 20px 0 6px; }
h4 { font-size: 14px; margin: 14px 0 4px; }
a { color: var(--accent); }
code, .mono, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
pre { white-space: pre-wrap; word-break: break-word; background: var(--panel); padding: 8px; border-radius: 4px; margin: 4px 0; }
.muted { color: var(--muted); }
.small { font-size: 12px; }
nav.toc { margin: 6px 0 0; display: flex; flex-wrap: wrap; gap: 4px 14px; }
nav.toc a { text-decoration: none; }
:root:not(.js) .js-only { display: none !important; }
.js .no-js-only { display: none !important; }
button, select, input { font: inherit; color: inherit; background: var(--bg); border: 1px solid var(--line); border-radius: 4px; padding: 3px 6px; }
button { cursor: pointer; }
#theme { float: right; }
table { border-collapse: collapse; }
table.data { margin: 6px 0 12px; }
table.data th, table.data td { border: 1px solid var(--line); padding: 3px 7px; text-align: left; vertical-align: top; }
table.data th { background: var(--panel); font-weight: 600; }
table.data td.n, table.data th.n { text-align: right; font-variant-numeric: tabular-nums; }
table.data td.n { white-space: nowrap; }
.nowrap { white-space: nowrap; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 8px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 200px; background: var(--panel); }
.card h3 { margin: 0 0 4px; font-size: 15px; }
.badge { display: inline-block; padding: 0 6px; border-radius: 10px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.s-pass { color: var(--pass); background: var(--pass-bg); }
.s-fail { color: var(--fail); background: var(--fail-bg); }
.s-finding { color: var(--finding); background: var(--finding-bg); }
.s-skip { color: var(--skip); background: var(--skip-bg); }
.s-none { color: var(--none); }
.s-flaky, .s-absent { color: var(--muted); }
/* matrix */
.filters { display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: center; padding: 8px 10px; margin: 8px 0; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; }
.filters label { display: inline-flex; gap: 4px; align-items: center; }
.table-wrap { overflow-x: auto; }
table.runs td:first-child { min-width: 15em; }
table.matrix { font-size: 13px; }
table.matrix thead th { position: sticky; top: 0; z-index: 2; background: var(--panel); border-bottom: 2px solid var(--line); padding: 4px 6px; vertical-align: bottom; }
table.matrix th.bro { min-width: 86px; text-align: center; }
table.matrix td, table.matrix th[scope=row] { border-bottom: 1px solid var(--line); padding: 2px 6px; vertical-align: top; }
table.matrix th[scope=row] { text-align: left; font-weight: normal; white-space: nowrap; }
table.matrix td.para { color: var(--muted); max-width: 46em; font-size: 12.5px; }
table.matrix tr.sec th { text-align: left; background: var(--bg); padding-top: 12px; border-bottom: 1px solid var(--fg); }
table.matrix tr.sec td { text-align: center; font-size: 12px; padding-top: 12px; border-bottom: 1px solid var(--fg); white-space: nowrap; }
table.matrix td.cell { text-align: center; white-space: nowrap; padding: 1px 3px; }
td.cell > a, td.cell > span { display: block; padding: 1px 6px; border-radius: 3px; text-decoration: none; font-weight: 600; font-size: 12px; }
td.cell.changed > a, td.cell.changed > span { outline: 2px solid var(--changed); outline-offset: -1px; }
.sid { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.lvl { color: var(--muted); font-size: 11px; margin-left: 4px; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 14px; margin: 4px 0; font-size: 12.5px; }
.legend .sw { display: inline-block; width: 12px; height: 12px; border-radius: 2px; vertical-align: -2px; margin-right: 4px; }
#matrix-count { font-weight: 600; }
/* coverage bars */
.bar { display: inline-block; width: 90px; height: 8px; background: var(--skip-bg); border-radius: 4px; vertical-align: middle; margin-right: 6px; }
.bar > svg { display: block; }
/* evidence and trace */
details.ev { border: 1px solid var(--line); border-radius: 6px; margin: 6px 0; padding: 4px 10px; }
details.ev > summary { cursor: pointer; }
details.ev:target, details.ev.hl { outline: 2px solid var(--accent); }
table.trace { font-size: 12px; margin: 6px 0; }
table.trace td, table.trace th { padding: 1px 6px; border-bottom: 1px solid var(--line); vertical-align: top; text-align: left; }
table.trace td.t { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.trace td.dir { text-align: center; font-weight: 700; }
table.trace tr.d-out td.dir { color: var(--c1); }
table.trace tr.d-in td.dir { color: var(--c2); }
table.trace tr.d-event td { color: var(--muted); }
table.trace td.what { font-weight: 600; white-space: nowrap; }
table.trace td.fields { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; word-break: break-word; }
.kv { margin-right: 10px; }
.kv .k { color: var(--muted); }
/* panel */
#panel { position: fixed; top: 0; right: 0; bottom: 0; width: min(760px, 94vw); overflow-y: auto; background: var(--bg); border-left: 2px solid var(--line); box-shadow: -6px 0 24px rgba(0,0,0,.18); padding: 12px 18px 40px; z-index: 10; }
#panel[hidden] { display: none; }
#panel .close { float: right; }
#panel h3 { margin-top: 4px; }
.tests-list > li { margin: 8px 0; }
.fault-list { margin: 4px 0; padding-left: 18px; } .fault-list > li { margin: 2px 0; }
.fault-missed > td:first-child, .fault-error > td:first-child { font-weight: 700; }
/* charts */
.charts { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
figure.chart { max-width: 680px; margin: 8px 0; border: 1px solid var(--line); border-radius: 6px; padding: 8px; background: var(--bg); }
figure.chart figcaption { font-weight: 600; margin-bottom: 4px; }
svg.chart { display: block; max-width: 100%; height: auto; font-family: system-ui, sans-serif; }
svg.chart text { fill: var(--fg); font-size: 11px; }
svg.chart .axis { stroke: var(--muted); stroke-width: 1; }
svg.chart .grid { stroke: var(--line); stroke-width: 1; }
svg.chart .lbl { fill: var(--muted); }
.k1 { --k: var(--c1); } .k2 { --k: var(--c2); } .k3 { --k: var(--c3); } .k4 { --k: var(--c4); }
.k5 { --k: var(--c5); } .k6 { --k: var(--c6); } .k7 { --k: var(--c7); } .k8 { --k: var(--c8); }
svg.chart path.curve { fill: none; stroke: var(--k); stroke-width: 2; }
svg.chart path.curve.unc { stroke-dasharray: 4 3; stroke-width: 1.2; opacity: .8; }
svg.chart rect.fillk { fill: var(--k); }
svg.chart rect.offered { fill: none; stroke: var(--k); stroke-width: 1.5; stroke-dasharray: 3 2; }
.seg-setup { fill: var(--c4); } .seg-headers { fill: var(--c1); } .seg-acks { fill: var(--c2); } .seg-payload { fill: var(--c3); } .seg-other { fill: var(--none); }
.sw.seg-setup { background: var(--c4); } .sw.seg-headers { background: var(--c1); } .sw.seg-acks { background: var(--c2); } .sw.seg-payload { background: var(--c3); } .sw.seg-other { background: var(--none); }
.sw.k { background: var(--k); }
.sw.chg { outline: 2px solid var(--changed); outline-offset: -2px; }
.sw.s-pass { background: var(--pass); } .sw.s-fail { background: var(--fail); } .sw.s-finding { background: var(--finding); } .sw.s-skip { background: var(--skip); }
/* comparison */
tr.ch-regression td, tr.ch-new-failure td, tr.v-regression td, tr.ch-unexpected-pass td { background: var(--fail-bg); }
tr.ch-fixed td, tr.v-improvement td, tr.ch-newly-passing td { background: var(--pass-bg); }
tr.ch-no-longer-runs td, tr.v-within-noise td { background: var(--finding-bg); }
.verdict { font-size: 16px; font-weight: 700; padding: 6px 10px; border-radius: 6px; display: inline-block; }
@media print {
  body { font-size: 11px; background: #fff; color: #000; }
  .filters, #panel, #theme, nav.toc, .js-only { display: none !important; }
  table.matrix thead th { position: static; }
  main { max-width: none; padding: 0; }
  h2 { break-before: auto; break-after: avoid; }
  tr, figure.chart, details.ev { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
  pre { background: none; border: 1px solid #ccc; }
  .badge, td.cell > a, td.cell > span, .sw, svg.chart { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
`;
