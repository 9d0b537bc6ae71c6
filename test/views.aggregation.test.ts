import { describe, expect, test } from "bun:test";
import { analyzeAggregation, vetExpressions, type AggregationShape } from "../runtime/views/aggregation.ts";

function shape(sql: string): AggregationShape {
  const analysis = analyzeAggregation(sql);
  if ("reason" in analysis) throw new Error(`expected a rewritable shape: ${analysis.reason}`);
  return analysis;
}

function reason(sql: string): string {
  const analysis = analyzeAggregation(sql);
  if (!("reason" in analysis)) throw new Error(`expected ${sql} to stay plain`);
  return analysis.reason;
}

const columns = new Set(["country", "path", "durationMs", "userId", "ts"]);
const deterministic = (fn: string) => ["toDate", "lower", "plus", "if", "arrayCount"].includes(fn);

describe("the incremental shape", () => {
  test("keys, aliased or not, and the supported aggregates", () => {
    const s = shape("SELECT country, toDate(ts) AS day, COUNT(*), count(userId) AS c, sum(durationMs), avg(durationMs) AS a, min(ts), max(ts), uniq(userId), uniqExact(userId), any(path) FROM PageView AS p WHERE p.durationMs > 0 GROUP BY country, day");
    expect(s.table).toBe("PageView");
    expect([...s.qualifiers]).toEqual(["PageView", "p"]);
    expect(s.items.map((i) => (i.kind === "key" ? i.text : `${i.fn}(${i.arg ?? ""})${i.alias ? ` AS ${i.alias}` : ""}`))).toEqual([
      "country", "toDate(ts) AS day", "count()", "count(userId) AS c", "sum(durationMs)", "avg(durationMs) AS a", "min(ts)", "max(ts)", "uniq(userId)", "uniqExact(userId)", "any(path)",
    ]);
    expect(s.extraKeys).toEqual([]);
    expect(s.rest).toBe("FROM PageView AS p WHERE p.durationMs > 0 GROUP BY country, day");
    expect(vetExpressions(s, columns, deterministic)).toBeUndefined();
  });

  test("GROUP BY expressions that are not selected become extra keys", () => {
    expect(shape("SELECT count() FROM t GROUP BY country, lower(path)").extraKeys).toEqual(["country", "lower(path)"]);
  });

  test.each([
    ["SELECT DISTINCT country, count() FROM t GROUP BY country", "it uses SELECT DISTINCT"],
    ["WITH 1 AS one SELECT country, count() FROM t GROUP BY country", "it does not start with SELECT (WITH is not rewritten)"],
    ["SELECT country, count() FROM t", "it has no GROUP BY"],
    ["SELECT country, count() FROM t GROUP BY country HAVING count() > 1", "it uses HAVING"],
    ["SELECT country, count() FROM t GROUP BY country ORDER BY country", "it uses ORDER"],
    ["SELECT country, count() FROM t GROUP BY country LIMIT 3", "it uses LIMIT"],
    ["SELECT country, count() FROM t GROUP BY country SETTINGS max_threads = 1", "it uses SETTINGS"],
    ["SELECT country, count() FROM t GROUP BY country WITH TOTALS", "it uses WITH"],
    ["SELECT country, count() FROM t FINAL GROUP BY country", "`FINAL` after the table is not rewritten (only WHERE and GROUP BY are)"],
    ["SELECT country, count() FROM t JOIN u USING (id) GROUP BY country", "`JOIN` after the table is not rewritten (only WHERE and GROUP BY are)"],
    ["SELECT country, count() FROM (SELECT * FROM t) GROUP BY country", "it does not read one unqualified table"],
    ["SELECT country, count() FROM db.t GROUP BY country", "it does not read one unqualified table"],
    ["SELECT country, count(DISTINCT userId) FROM t GROUP BY country", "count(DISTINCT ...) is not rewritten"],
    ["SELECT country, sumIf(durationMs, durationMs > 0) FROM t GROUP BY country", "a selected expression is neither grouped by nor one of the rewritten aggregates"],
    ["SELECT country, quantile(0.5)(durationMs) FROM t GROUP BY country", "a selected expression is neither grouped by nor one of the rewritten aggregates"],
    ["SELECT country, count() OVER () FROM t GROUP BY country", "a selected expression is neither grouped by nor one of the rewritten aggregates"],
    ["SELECT country, 'web' AS source, count() FROM t GROUP BY country", "a selected expression is neither grouped by nor one of the rewritten aggregates"],
    ["SELECT country, count() FROM t GROUP BY 1", "it groups by position (GROUP BY 1)"],
    ["SELECT country, count() AS c FROM t GROUP BY country, c", "it groups by an aggregate's alias"],
    ["SELECT country, sum() FROM t GROUP BY country", "sum() needs an argument"],
  ])("%s stays plain: %s", (sql, why) => {
    expect(reason(sql)).toBe(why);
  });

  test.each([
    ["SELECT country, count() FROM t WHERE ts > now() GROUP BY country", "`now` is not a deterministic plain function the engine knows"],
    ["SELECT country, count() FROM t WHERE userId IN (SELECT userId FROM u) GROUP BY country", "it has a subquery"],
    ["SELECT country, count() FROM t WHERE userId IN u GROUP BY country", "`u` is not a column of t"],
    ["SELECT country, count() FROM t WHERE path = {p:String} GROUP BY country", "it has parameters"],
    ["SELECT country, sum(arrayCount(x -> x > 1, [1])) FROM t GROUP BY country", "it uses a lambda"],
    ["SELECT country, max(x.ts) FROM t GROUP BY country", "`x.ts` is not a column of t"],
    ["SELECT lower(country) AS country, count() FROM t GROUP BY country", "the alias `country` shadows a column of t"],
    ["SELECT country, sum(durationMs) FROM t WHERE CURRENT_TIMESTAMP > ts GROUP BY country", "`CURRENT_TIMESTAMP` is not a column of t"],
  ])("%s is not vetted: %s", (sql, why) => {
    expect(vetExpressions(shape(sql), columns, deterministic)).toBe(why);
  });
});
