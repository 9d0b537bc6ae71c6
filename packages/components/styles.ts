/**
 * The elements' look, themed from outside with CSS custom properties (inherited through
 * the shadow root) and `::part()`. Each `--igloo-*` property has a light and a dark
 * default (prefers-color-scheme); the resolved value sits in a private `--_*` property,
 * which the canvas charts read back with getComputedStyle, so a page's theme reaches the
 * canvas as it reaches the text.
 *
 *   --igloo-font  --igloo-text  --igloo-muted  --igloo-background  --igloo-grid
 *   --igloo-border  --igloo-accent  --igloo-up  --igloo-down  --igloo-error
 *   --igloo-series-1 ... --igloo-series-8  --igloo-chart-height
 */
const LIGHT_SERIES = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7"];
const DARK_SERIES = ["#7aa6d6", "#ffa94d", "#ff7b7d", "#8fd3cc", "#7cc46f", "#f5d76e", "#c99bc2", "#ffb3bb"];
export const SERIES_COUNT = LIGHT_SERIES.length;

const properties = (theme: Record<string, string>, series: readonly string[]) =>
  [...Object.entries(theme).map(([name, value]) => `--_${name}:var(--igloo-${name},${value});`), ...series.map((color, i) => `--_series-${i + 1}:var(--igloo-series-${i + 1},${color});`)].join("");

const LIGHT = { text: "#1f2328", muted: "#656d76", background: "transparent", grid: "rgba(31,35,40,.12)", border: "#d0d7de", accent: "#0969da", up: "#1a7f37", down: "#cf222e", error: "#cf222e" };
const DARK = { text: "#e6edf3", muted: "#9198a1", background: "transparent", grid: "rgba(230,237,243,.14)", border: "#3d444d", accent: "#4493f8", up: "#3fb950", down: "#f85149", error: "#ff7b72" };

export const BASE_CSS = `
:host{display:block;position:relative;box-sizing:border-box;min-width:0;${properties(LIGHT, LIGHT_SERIES)}
font:var(--igloo-font,13px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif);color:var(--_text);background:var(--_background)}
@media (prefers-color-scheme:dark){:host{${properties(DARK, DARK_SERIES)}}}
:host([hidden]){display:none}
[part~=state]{padding:12px;color:var(--_muted)}
[part~=state]:empty{display:none}
[part~=error]{color:var(--_error)}
.sr{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
`;

/** A color with an alpha, whatever CSS syntax it came in: the canvas normalizes it first. */
export function withAlpha(color: string, alpha: number): string {
  const context = document.createElement("canvas").getContext("2d");
  if (!context) return color;
  context.fillStyle = color;
  const normal = context.fillStyle;
  if (normal.startsWith("#") && normal.length === 7) return normal + Math.round(alpha * 255).toString(16).padStart(2, "0");
  return normal.replace(/rgba?\(([^,]+),([^,]+),([^,)]+)(,[^)]*)?\)/, `rgba($1,$2,$3,${alpha})`);
}
