import { describe, expect, test } from "bun:test";
import type { ModelIR } from "../conventions/datamodels/ir.ts";
import { parseModels } from "../conventions/prisma/parse.ts";
import { parseViews } from "../conventions/views/parse.ts";
import { createTableSql } from "../runtime/store/clickhouseSql.ts";
import { readAll } from "../runtime/store/store.ts";
import { ViewManager, type ViewHooks, type ViewStatement } from "../runtime/views/viewManager.ts";
import { IglooError } from "../conventions/errors.ts";
import { STATUS_OF_KIND } from "../runtime/server/errorStatus.ts";
import { sharedChdbStore } from "./helpers/chdb.ts";
import { random } from "./helpers/random.ts";

const store = await sharedChdbStore();
let counter = 0;
/** Every table and view is this test's own: the engine is shared by the whole process. */
const unique = (base: string) => `${base}_${process.pid}_${++counter}`;

async function createModel(options: { engine?: string } = {}): Promise<ModelIR> {
  const table = unique("PageView");
  const text = `model ${table} {\n id String @id\n userId String\n country String\n path String\n durationMs Int @db.UInt32\n ${options.engine ?? ""}\n}`;
  const { models, errors } = parseModels([{ path: `datamodels/${table}.prisma`, text }]);
  expect(errors).toEqual([]);
  const model = models.models[0]!;
  await store.exec(createTableSql(model, store.capabilities));
  return model;
}

const manager = () => new ViewManager(store, { stateTable: unique("igloo_views_test") });
const views = (files: Record<string, string>, failed: string[] = []) => {
  const parsed = parseViews(Object.entries(files).map(([name, text]) => ({ path: `views/${name}.sql`, text })));
  expect(parsed.errors.map((e) => e.message)).toEqual([]);
  expect(parsed.failed).toEqual(failed);
  return parsed.views;
};
const messages = (report: { errors: Error[] }) => report.errors.map((e) => e.message);

const COUNTRIES = ["FR", "DE", "US", "fr", "JP", "BR"];
let rowId = 0;
function rows(count: number, seed: number) {
  const next = random(seed);
  return Array.from({ length: count }, () => ({
    id: `r${++rowId}`,
    userId: `u${Math.floor(next() * 400)}`,
    country: COUNTRIES[Math.floor(next() * COUNTRIES.length)]!,
    path: `/p${Math.floor(next() * 5)}`,
    durationMs: Math.floor(next() * 10_000),
  }));
}
const encode = (records: object[]) => new TextEncoder().encode(records.map((r) => JSON.stringify(r)).join("\n"));

/**
 * Stands in for Igloo's table writer: inserts wait while the table is paused, and a pause
 * returns once the inserts already in flight are done, which is the writer's contract.
 */
class GatedWriter {
  readonly paused: string[] = [];
  inserted = 0;
  /** Inserts that found the table paused and waited. */
  held = 0;
  #gate: Promise<void> | undefined;
  readonly #inFlight = new Set<Promise<void>>();

  async insert(table: string, records: object[]): Promise<void> {
    if (this.#gate !== undefined) this.held++;
    while (this.#gate !== undefined) await this.#gate;
    const insert = store.insertJsonEachRow(table, encode(records));
    this.#inFlight.add(insert);
    try {
      await insert;
      this.inserted += records.length;
    } finally {
      this.#inFlight.delete(insert);
    }
  }

  /** `count` concurrent inserts of 1 to 60 rows each. */
  many(table: string, count: number): Promise<void[]> {
    return Promise.all(Array.from({ length: count }, (_, i) => this.insert(table, rows(1 + ((i * 37) % 60), rowId + i))));
  }

  /** `lanes` concurrent streams of small inserts until `until` settles; resolves to the insert count. */
  async during(table: string, lanes: number, until: Promise<unknown>): Promise<number> {
    let done = false;
    void until.finally(() => (done = true));
    let count = 0;
    await Promise.all(Array.from({ length: lanes }, async (_, lane) => {
      while (!done) {
        await this.insert(table, rows(1 + ((count * 13 + lane) % 25), rowId + lane));
        count++;
      }
    }));
    return count;
  }

  readonly hooks: ViewHooks = {
    pauseWriter: async (table) => {
      this.paused.push(table);
      let open = (): void => {};
      this.#gate = new Promise((resolve) => (open = resolve));
      await Promise.allSettled([...this.#inFlight]);
      return async () => {
        this.#gate = undefined;
        open();
      };
    },
  };
}

const noWriter: ViewHooks = {
  pauseWriter: () => Promise.reject(new Error("no writer should be paused for this view")),
};

async function fromScratch(sql: string): Promise<Record<string, unknown>[]> {
  return sorted((await store.query(sql)).rows);
}
function sorted(list: Record<string, unknown>[]): Record<string, unknown>[] {
  return [...list].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
}
/** What `GET /views/<name>` answers, as a status and rows or an error (runtime/server maps the kind). */
async function viewQuery(m: ViewManager, name: string, params: Record<string, string>): Promise<{ status: number; rows?: Record<string, unknown>[]; error?: string }> {
  let statement: ViewStatement;
  try {
    statement = m.resolve(name, params);
  } catch (error) {
    if (!(error instanceof IglooError)) throw error;
    return { status: STATUS_OF_KIND[error.kind], error: error.message };
  }
  return { status: 200, rows: (await readAll(store, statement.sql, statement.params)).rows };
}
async function answer(m: ViewManager, name: string, params: Record<string, string> = {}) {
  const result = await viewQuery(m, name, params);
  if (result.rows === undefined) throw new Error(`view ${name}: ${result.status} ${result.error}`);
  return sorted(result.rows);
}
async function engineObjects(...names: string[]): Promise<Record<string, string>> {
  const { rows: found } = await store.query<{ name: string; engine: string }>(
    "SELECT name, engine FROM system.tables WHERE database = currentDatabase() AND has({names:Array(String)}, name)",
    { names },
  );
  return Object.fromEntries(found.map((r) => [r.name, r.engine]));
}

describe("incremental views", () => {
  test("an aggregation kept by -State/-Merge equals a from-scratch run, with many concurrent inserts before, during and after creation", async () => {
    const model = await createModel();
    const t = model.table;
    const name = unique("by_country");
    const sql = `SELECT country, count() AS views, sum(durationMs) AS total, uniq(userId) AS users, avg(durationMs) AS avg_ms FROM ${t} GROUP BY country`;
    const writer = new GatedWriter();
    await writer.many(t, 50);

    const m = manager();
    const applying = m.apply(views({ [name]: sql }), [model], writer.hooks);
    const racing = await writer.during(t, 8, applying);
    const report = await applying;
    expect(report).toEqual({ errors: [], created: [name], dropped: [], unchanged: [] });
    expect(m.kind(name)).toBe("incremental");
    expect(writer.paused).toEqual([t]);
    // The race was real: inserts ran while the view was built, and some met the pause.
    expect(racing).toBeGreaterThan(10);
    expect(writer.held).toBeGreaterThan(0);
    await writer.many(t, 50);

    // uniq merges the same hash sets whichever way the rows were split, so even the
    // approximate aggregate must match exactly.
    const expected = await fromScratch(sql);
    expect(await answer(m, name)).toEqual(expected);
    expect(expected.reduce((sum, r) => sum + Number(r.views), 0)).toBe(writer.inserted);
    expect(await engineObjects(name, `igloo_view_${name}`, `igloo_mv_${name}`)).toEqual({
      [name]: "View",
      [`igloo_view_${name}`]: "AggregatingMergeTree",
      [`igloo_mv_${name}`]: "MaterializedView",
    });
    const { rows: view } = await store.query<{ create_table_query: string }>(
      "SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = {name:String}",
      { name },
    );
    expect(view[0]!.create_table_query).toContain(`countMerge(views)`);

    // Result columns are the original SELECT's, as the engine describes it.
    const { rows: described } = await store.query<{ name: string; type: string }>(`DESCRIBE (${sql})`);
    expect(m.columns(name)).toEqual(described.map((c) => ({ name: c.name, type: c.type })));
    expect((await store.describeTable(name))!.map((c) => [c.name, c.type])).toEqual(described.map((c) => [c.name, c.type]));
  });

  test("backfill counts rows that existed before the view exactly once; retried (deduplicated) inserts count once", async () => {
    const model = await createModel();
    const t = model.table;
    const name = unique("backfill");
    const sql = `SELECT lower(country) AS c, count() AS n, min(durationMs) AS shortest, max(durationMs), uniqExact(userId) AS u FROM ${t} WHERE durationMs > 100 GROUP BY c, path`;
    const writer = new GatedWriter();
    await writer.many(t, 20);
    const m = manager();
    expect(messages(await m.apply(views({ [name]: sql }), [model], writer.hooks))).toEqual([]);
    expect(m.kind(name)).toBe("incremental");
    expect(await answer(m, name)).toEqual(await fromScratch(sql));

    const retried = encode(rows(30, 99));
    const token = unique("token");
    await store.insertJsonEachRow(t, retried, { dedupToken: token });
    await store.insertJsonEachRow(t, retried, { dedupToken: token });
    await writer.many(t, 20);
    expect(await answer(m, name)).toEqual(await fromScratch(sql));
  });

  test("other shapes of the simple aggregation are rewritten too, and stay equal to a from-scratch run", async () => {
    const model = await createModel();
    const t = model.table;
    const shapes = {
      qualified: `SELECT p.country, COUNT(*), SUM(durationMs) FROM ${t} AS p GROUP BY p.country`,
      unselected_key: `SELECT count() AS n, uniqExact(userId) AS u FROM ${t} GROUP BY country`,
      expressions: `SELECT country, sum(durationMs * 2) AS s, count(path) FROM ${t} WHERE path LIKE '/p%' AND durationMs % 3 = 0 GROUP BY country`,
      strings: `SELECT country, path, min(userId), max(userId) AS last_user FROM ${t} GROUP BY path, country`,
      self_alias: `SELECT country, sum(durationMs) AS durationMs FROM ${t} GROUP BY country`,
      alias_key: `SELECT lower(country) AS lc, count() AS c FROM ${t} WHERE lc != 'de' GROUP BY lc`,
    };
    const named = Object.fromEntries(Object.entries(shapes).map(([k, sql]) => [unique(k), sql]));
    const writer = new GatedWriter();
    await writer.many(t, 10);
    const m = manager();
    expect(messages(await m.apply(views(named), [model], writer.hooks))).toEqual([]);
    await writer.many(t, 30);
    for (const [name, sql] of Object.entries(named)) {
      expect([name, m.kind(name), m.fallbackReason(name)]).toEqual([name, "incremental", undefined]);
      expect(await answer(m, name)).toEqual(await fromScratch(sql));
    }
  });

  test.each([
    ["HAVING", (t: string) => `SELECT country, count() AS n FROM ${t} GROUP BY country HAVING n > 1`, "it uses HAVING"],
    ["a non-deterministic WHERE", (t: string) => `SELECT country, count() AS n FROM ${t} WHERE now() > '2000-01-01' GROUP BY country`, "`now` is not a deterministic plain function the engine knows"],
    ["ORDER BY", (t: string) => `SELECT country, count() AS n FROM ${t} GROUP BY country ORDER BY n DESC`, "it uses ORDER"],
  ])("%s stays a plain view with the same answers", async (_, make, reason) => {
    const model = await createModel();
    const name = unique("fallback");
    const sql = make(model.table);
    const writer = new GatedWriter();
    await writer.many(model.table, 10);
    const m = manager();
    expect(messages(await m.apply(views({ [name]: sql }), [model], noWriter))).toEqual([]);
    expect(m.kind(name)).toBe("plain");
    expect(m.fallbackReason(name)).toBe(reason);
    await writer.many(model.table, 10);
    expect(await answer(m, name)).toEqual(await fromScratch(sql));
  });

  test("a ReplacingMergeTree model stays plain: merges drop rows the states would still count", async () => {
    const model = await createModel({ engine: "@@engine(ReplacingMergeTree)" });
    const name = unique("replacing");
    const m = manager();
    expect(messages(await m.apply(views({ [name]: `SELECT country, count() AS n FROM ${model.table} GROUP BY country` }), [model], noWriter))).toEqual([]);
    expect(m.kind(name)).toBe("plain");
    expect(m.fallbackReason(name)).toContain("ReplacingMergeTree");
  });
});

describe("the view lifecycle", () => {
  test("re-applying is a no-op, also after a restart; a change rebuilds it and the views reading it; removal drops everything", async () => {
    const model = await createModel();
    const t = model.table;
    const stateTable = unique("igloo_views_test");
    const [a, b] = [unique("agg"), unique("top")];
    const files = (where: string) => views({
      [b]: `SELECT * FROM ${a} ORDER BY n DESC LIMIT 2`,
      [a]: `SELECT country, count() AS n FROM ${t} ${where} GROUP BY country`,
    });
    const writer = new GatedWriter();
    await writer.many(t, 10);

    const m = new ViewManager(store, { stateTable });
    expect(await m.apply(files(""), [model], writer.hooks)).toEqual({ errors: [], created: [a, b], dropped: [], unchanged: [] });
    expect(await m.apply(files(""), [model], writer.hooks)).toEqual({ errors: [], created: [], dropped: [], unchanged: [a, b] });
    const restarted = new ViewManager(store, { stateTable });
    expect(await restarted.apply(files(""), [model], writer.hooks)).toEqual({ errors: [], created: [], dropped: [], unchanged: [a, b] });
    expect(writer.paused).toEqual([t]);

    const changed = await restarted.apply(files("WHERE durationMs > 5000"), [model], writer.hooks);
    expect(changed).toEqual({ errors: [], created: [a, b], dropped: [], unchanged: [] });
    expect(restarted.kind(a)).toBe("incremental");
    await writer.many(t, 10);
    expect(await answer(restarted, a)).toEqual(await fromScratch(`SELECT country, count() AS n FROM ${t} WHERE durationMs > 5000 GROUP BY country`));
    expect(await answer(restarted, b)).toEqual(await fromScratch(`SELECT * FROM ${a} ORDER BY n DESC LIMIT 2`));

    expect(await restarted.apply([], [model], writer.hooks)).toEqual({ errors: [], created: [], dropped: [a, b], unchanged: [] });
    expect(await engineObjects(a, b, `igloo_view_${a}`, `igloo_mv_${a}`)).toEqual({});
    expect(await viewQuery(restarted, a, {})).toEqual({ status: 404, error: `no view named \`${a}\`; there are no views yet; add views/<name>.sql` });
  });

  test("views are created after the views they read, whatever the file order", async () => {
    const model = await createModel();
    const [base, mid, top] = [unique("base"), unique("mid"), unique("top")];
    const m = manager();
    const report = await m.apply(views({
      [top]: `SELECT count() AS c FROM ${mid}`,
      [mid]: `SELECT path FROM ${base} WHERE durationMs > 10`,
      [base]: `SELECT path, durationMs FROM ${model.table}`,
    }), [model], noWriter);
    expect(report.created).toEqual([base, mid, top]);
    expect(m.names()).toEqual([base, mid, top].sort());
    expect(await answer(m, top)).toEqual([{ c: "0" }]);
  });

  test("a changed view that now fails keeps its last good version; so does a file that no longer parses", async () => {
    const model = await createModel();
    const name = unique("keep");
    const m = manager();
    const good = `SELECT path FROM ${model.table}`;
    expect(messages(await m.apply(views({ [name]: good }), [model], noWriter))).toEqual([]);
    const broken = await m.apply(views({ [name]: `SELECT\n  nope FROM ${model.table}` }), [model], noWriter);
    expect(messages(broken)).toEqual([expect.stringMatching(new RegExp(`^views/${name}\\.sql:1:1: the engine rejects this query: .*nope`))]);
    expect(await viewQuery(m, name, {})).toEqual({ status: 200, rows: [] });
    expect(await m.apply([], [model], noWriter, { failed: [name] })).toEqual({ errors: [], created: [], dropped: [], unchanged: [] });
    expect(m.names()).toEqual([name]);
  });
});

describe("view errors", () => {
  test("a cycle names the files in it; other views are unaffected", async () => {
    const model = await createModel();
    const [a, b, self, fine] = [unique("a"), unique("b"), unique("self"), unique("fine")];
    const m = manager();
    const report = await m.apply(views({
      [a]: `SELECT * FROM ${b}`,
      [b]: `SELECT * FROM ${a}`,
      [self]: `SELECT * FROM ${self}`,
      [fine]: `SELECT count() AS n FROM ${model.table}`,
    }), [model], noWriter);
    expect(report.created).toEqual([fine]);
    expect(messages(report).sort()).toEqual([
      `views/${a}.sql:1:1: view \`${a}\` is part of a cycle: views/${a}.sql -> views/${b}.sql -> views/${a}.sql. A view cannot read itself, directly or through other views.`,
      `views/${b}.sql:1:1: view \`${b}\` is part of a cycle: views/${a}.sql -> views/${b}.sql -> views/${a}.sql. A view cannot read itself, directly or through other views.`,
      `views/${self}.sql:1:1: view \`${self}\` is part of a cycle: views/${self}.sql -> views/${self}.sql. A view cannot read itself, directly or through other views.`,
    ].sort());
  });

  test("an unknown table is reported at its name in the view's file", async () => {
    const model = await createModel();
    const name = unique("typo");
    const m = manager();
    const report = await m.apply(views({ [name]: `-- views\nSELECT path\nFROM ${model.table} JOIN\n  PageVeiw USING (id)` }), [model], noWriter);
    expect(messages(report)).toEqual([
      `views/${name}.sql:4:3: view \`${name}\` reads \`PageVeiw\`, which is neither a model table, a view nor a table in the engine. Check the spelling: a model's table has the model's name (or its @@map), a view its file's name.`,
    ]);
    // Asked for, a view that never loaded says why, not that there is no such view.
    const asked = await viewQuery(m, name, {});
    expect(asked.status).toBe(503);
    expect(asked.error).toMatch(new RegExp(`^view \`${name}\` has not loaded: view \`${name}\` reads \`PageVeiw\`.*Fix views/${name}\.sql`));
    expect((await viewQuery(m, "nothing_like_it", {})).status).toBe(404);
  });

  test("a view reading a view with parameters, a view named like a model table, a name taken by another table", async () => {
    const model = await createModel();
    const [param, reader, taken] = [unique("param"), unique("reader"), unique("taken")];
    await store.exec(`CREATE TABLE ${taken} (x UInt8) ENGINE = Memory`);
    const report = await manager().apply(views({
      [param]: `SELECT path FROM ${model.table} WHERE country = {c:String}`,
      [reader]: `SELECT * FROM ${param}`,
      [model.table]: "SELECT 1",
      [taken]: "SELECT 2",
    }), [model], noWriter);
    expect(report.created).toEqual([param]);
    expect(messages(report).sort()).toEqual([
      `views/${model.table}.sql:1:1: view \`${model.table}\` has the name of the table of model \`${model.table}\`. Rename the view file.`,
      `views/${reader}.sql:1:15: view \`${reader}\` reads view \`${param}\`, which has parameters. A view with parameters runs per request with its values and cannot be read by other views; read its tables directly.`,
      `views/${taken}.sql:1:1: a Memory table named \`${taken}\` already exists and Igloo does not manage it. Rename the view file or drop that table.`,
    ].sort());
  });
});

describe("views with parameters", () => {
  test("bind checked values, answer 400 for missing, ill-typed and unknown parameters, and treat injections as values", async () => {
    const model = await createModel();
    const t = model.table;
    const writer = new GatedWriter();
    await writer.many(t, 10);
    const name = unique("by_country");
    const m = manager();
    const sql = `SELECT path, count() AS n FROM ${t}\nWHERE country = {country:String} AND durationMs >= {min:UInt32}\n  AND ({paths:Nullable(String)} IS NULL OR path = {paths:Nullable(String)})\nGROUP BY path`;
    expect(messages(await m.apply(views({ [name]: sql }), [model], noWriter))).toEqual([]);
    expect(m.kind(name)).toBe("parameterized");
    expect(m.columns(name)).toEqual([{ name: "path", type: "String" }, { name: "n", type: "UInt64" }]);

    expect(await answer(m, name, { country: "FR", min: "5000" })).toEqual(
      await fromScratch(`SELECT path, count() AS n FROM ${t} WHERE country = 'FR' AND durationMs >= 5000 GROUP BY path`),
    );
    expect(await answer(m, name, { country: "DE", min: "0", paths: "/p1" })).toEqual(
      await fromScratch(`SELECT path, count() AS n FROM ${t} WHERE country = 'DE' AND path = '/p1' GROUP BY path`),
    );

    expect(await viewQuery(m, name, { min: "1" })).toEqual({ status: 400, error: `view \`${name}\` needs the parameter \`country\` (String); pass it as ?country=...` });
    expect(await viewQuery(m, name, { country: "FR", min: "abc" })).toEqual({
      status: 400,
      error: `parameter \`min\` of view \`${name}\`: expected UInt32 (an integer from 0 to 4294967295), got "abc"`,
    });
    expect(await viewQuery(m, name, { country: "FR", min: "1", contry: "x" })).toEqual({
      status: 400,
      error: `view \`${name}\` has no parameter \`contry\` (did you mean \`country\`?); its parameters: country (String), min (UInt32), paths (Nullable(String))`,
    });
    expect(await viewQuery(m, name, { country: "FR", min: "1; DROP TABLE t" })).toMatchObject({ status: 400 });

    const before = await store.query(`SELECT count() AS c FROM ${t}`);
    expect(await viewQuery(m, name, { country: "x' OR 1=1 --", min: "0" })).toEqual({ status: 200, rows: [] });
    expect(await viewQuery(m, name, { country: `FR'; DROP TABLE ${t}; --`, min: "0" })).toEqual({ status: 200, rows: [] });
    expect(await viewQuery(m, name, { country: "FR", min: "0", paths: "1; DROP TABLE t" })).toEqual({ status: 200, rows: [] });
    expect((await store.query(`SELECT count() AS c FROM ${t}`)).rows).toEqual(before.rows);
  });

  test("array parameters come as JSON in the query string", async () => {
    const model = await createModel();
    const writer = new GatedWriter();
    await writer.many(model.table, 5);
    const name = unique("in_list");
    const m = manager();
    const sql = `SELECT country, count() AS n FROM ${model.table} WHERE has({countries:Array(String)}, country) GROUP BY country`;
    expect(messages(await m.apply(views({ [name]: sql }), [model], noWriter))).toEqual([]);
    expect(await answer(m, name, { countries: '["FR","it\'s"]' })).toEqual(
      await fromScratch(`SELECT country, count() AS n FROM ${model.table} WHERE country IN ('FR') GROUP BY country`),
    );
    expect(await viewQuery(m, name, { countries: "FR" })).toMatchObject({ status: 400, error: expect.stringContaining("as a JSON array") });
  });
});
