/**
 * The console's look: system fonts only (nothing is fetched), light and dark by
 * prefers-color-scheme, and the dashboard elements themed through their custom
 * properties. Adopted as a constructed stylesheet, which the page's CSP allows.
 */
const CSS = `
:root{--text:#1f2328;--muted:#656d76;--bg:#ffffff;--panel:#f6f8fa;--border:#d0d7de;--accent:#0969da;--bad:#cf222e;--bad-bg:#ffebe9;--ok:#1a7f37;--warn:#9a6700;--warn-bg:#fff8c5;
  --igloo-font:13px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--text:#e6edf3;--muted:#9198a1;--bg:#0d1117;--panel:#161b22;--border:#3d444d;--accent:#4493f8;--bad:#ff7b72;--bad-bg:#3c1618;--ok:#3fb950;--warn:#d29922;--warn-bg:#2e2a12}}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--text);background:var(--bg)}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
code,pre,textarea,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
pre{background:var(--panel);border:1px solid var(--border);border-radius:6px;padding:10px;overflow:auto;margin:0;white-space:pre-wrap;word-break:break-word}
header{display:flex;gap:18px;align-items:center;padding:10px 18px;border-bottom:1px solid var(--border);background:var(--panel)}
header .brand{font-weight:700;color:var(--text)}
header nav{display:flex;gap:14px;flex-wrap:wrap}
header nav a.here{font-weight:600;color:var(--text)}
.frame{display:grid;grid-template-columns:200px minmax(0,1fr);min-height:calc(100vh - 45px)}
aside{border-right:1px solid var(--border);padding:12px 14px;font-size:13px}
aside h3{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);margin:14px 0 4px}
aside a{display:block;padding:2px 0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
main{padding:16px 22px 40px;min-width:0}
h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:22px 0 8px}
.muted{color:var(--muted)}.bad{color:var(--bad)}.ok{color:var(--ok)}
.banner{border:1px solid var(--bad);background:var(--bad-bg);border-radius:6px;padding:8px 12px;margin:8px 0}
.banner.warn{border-color:var(--warn);background:var(--warn-bg)}
.facts{display:flex;gap:10px;flex-wrap:wrap;margin:10px 0}
.fact{border:1px solid var(--border);border-radius:6px;padding:6px 12px;min-width:110px}
.fact b{display:block;font-size:18px;font-variant-numeric:tabular-nums}.fact span{font-size:12px;color:var(--muted)}
.fact.bad{border-color:var(--bad)}
table.rows{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;font-size:13px}
table.rows th,table.rows td{padding:4px 8px;border-bottom:1px solid var(--border);text-align:left;vertical-align:top}
table.rows td{max-width:420px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
table.rows td.wrap{white-space:pre-wrap;word-break:break-word}
table.rows .num{text-align:right}
table.rows tr.fresh td{animation:fresh 1.5s ease-out}
@keyframes fresh{from{background:var(--warn-bg)}to{background:transparent}}
.scroll{overflow:auto;max-width:100%}
button{font:inherit;color:var(--text);background:var(--panel);border:1px solid var(--border);border-radius:6px;padding:4px 12px;cursor:pointer}
button.primary{background:var(--accent);border-color:var(--accent);color:#fff}
button.danger{background:var(--bad);border-color:var(--bad);color:#fff}
button:disabled{opacity:.5;cursor:default}
input,select,textarea{font:inherit;color:var(--text);background:var(--bg);border:1px solid var(--border);border-radius:6px;padding:4px 8px}
textarea{width:100%;min-height:140px}
form.grid{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:6px 12px;align-items:center;max-width:720px}
form.grid label{font-weight:500}form.grid small{grid-column:2;color:var(--muted);margin-top:-4px}
.row{display:flex;gap:10px;align-items:center;flex-wrap:wrap;margin:8px 0}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:18px}
.map{position:relative;display:grid;grid-template-columns:repeat(6,minmax(120px,1fr));column-gap:84px;row-gap:8px;padding:8px 0 36px;min-width:1280px}
.map .col{display:flex;flex-direction:column;gap:14px;justify-content:center;position:relative;z-index:1}
.map>h3{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);margin:0}
.node{display:block;border:1px solid var(--border);border-radius:6px;padding:5px 8px;background:var(--bg);font-size:12.5px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.node small{display:block;color:var(--muted)}
.node.bad{border-color:var(--bad);background:var(--bad-bg)}
.node.warn{border-color:var(--warn);background:var(--warn-bg)}
.map svg{position:absolute;inset:0;width:100%;height:100%;pointer-events:none;overflow:visible}
.map path{fill:none;stroke:var(--border);stroke-width:1.5}
.map path.moving{stroke:var(--accent)}.map path.bad{stroke:var(--bad);stroke-dasharray:4 3}
.map text{font-size:10.5px;fill:var(--muted);paint-order:stroke;stroke:var(--bg);stroke-width:3px}
.map text.bad{fill:var(--bad)}
igloo-chart{height:280px}
svg.chart text{font-size:11px;fill:var(--muted)}
svg.chart .axis{stroke:var(--border)}
`;

export function applyStyles(): void {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(CSS);
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
}
