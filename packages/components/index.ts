/**
 * Igloo's dashboard elements, one ES module with no framework, served at
 * `GET /_igloo/components.js` and written into every generated client:
 *
 *   <script type="module" src="http://127.0.0.1:4000/_igloo/components.js"></script>
 *   <igloo-chart view="top_pages" type="bar" x="path" y="views" live></igloo-chart>
 *
 * Importing it defines `<igloo-chart>`, `<igloo-table>` and `<igloo-kpi>` (once, however
 * often it is loaded). Their attributes are in README.md, section Dashboards.
 */
import { IglooChart } from "./chart.ts";
import { IglooKpi } from "./kpi.ts";
import { IglooTable } from "./table.ts";

export { IglooChart, IglooKpi, IglooTable };

for (const [tag, element] of [
  ["igloo-chart", IglooChart],
  ["igloo-table", IglooTable],
  ["igloo-kpi", IglooKpi],
] as const) {
  if (!customElements.get(tag)) customElements.define(tag, element);
}

declare global {
  interface HTMLElementTagNameMap {
    "igloo-chart": IglooChart;
    "igloo-table": IglooTable;
    "igloo-kpi": IglooKpi;
  }
}
