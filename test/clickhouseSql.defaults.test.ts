/**
 * A DateTime `@default` is written into the DDL as the validator reads it, so every
 * spelling the validator takes (a lowercase `t` or `z`, an offset, no zone, epoch text)
 * makes a table, and a row without the field gets the same instant. Found by the
 * generative round trip: `@default("2026-01-01t00:00:00Z")` stopped `igloo dev`.
 */
import { expect, test } from "bun:test";
import { parseModels } from "../conventions/prisma/parse.ts";
import { createTableSql } from "../runtime/store/clickhouseSql.ts";
import { sharedChdbStore } from "./helpers/chdb.ts";

const SPELLINGS = ["2026-01-01T10:00:00Z", "2026-01-01t10:00:00z", "2026-01-01T11:00:00+01:00", "2026-01-01 10:00:00", "2026-01-01T10:00:00.000Z", "2026-01-01T05:00:00-05:00"];

test("every accepted spelling of a DateTime default makes a table whose default is that instant", async () => {
  const store = await sharedChdbStore();
  for (const [i, spelling] of SPELLINGS.entries()) {
    for (const precision of [3, 6]) {
      const table = `dt_default_${process.pid}_${i}_${precision}`;
      const { models, errors } = parseModels([
        { path: `datamodels/${table}.prisma`, text: `model ${table} {\n  id String @id\n  ts DateTime @default("${spelling}") @db.DateTime64(${precision})\n  d DateTime @db.Date @default("2026-01-01")\n}` },
      ]);
      expect({ spelling, errors }).toEqual({ spelling, errors: [] });
      await store.exec(createTableSql(models.models[0]!, store.capabilities));
      await store.insertJsonEachRow(table, new TextEncoder().encode('{"id":"x"}'));
      const { rows } = await store.query<{ ts: string; d: string }>(`SELECT toString(ts) AS ts, toString(d) AS d FROM ${table}`);
      expect({ spelling, precision, row: rows[0] }).toEqual({ spelling, precision, row: { ts: precision === 3 ? "2026-01-01 10:00:00.000" : "2026-01-01 10:00:00.000000", d: "2026-01-01" } });
    }
  }
});
