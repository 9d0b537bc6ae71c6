/**
 * Every supported type round-trips: what is ingested comes back from /query equal, with
 * no digit, scale or sub-millisecond precision lost.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { eventually, initProject, postIngest, query, removeDir, startDev, type DevProcess } from "./helpers/igloo.ts";

const MODEL = `
enum Level {
  low
  high
}

model AllTypes {
  id        String   @id
  s         String
  sLow      String   @db.LowCardinality
  sFixed    String   @db.FixedString(3)
  uuid      String   @db.Uuid
  b         Boolean
  i         Int
  i8        Int      @db.Int8
  u8        Int      @db.UInt8
  u32       Int      @db.UInt32
  big       BigInt
  u64       BigInt   @db.UInt64
  i128      BigInt   @db.Int128
  f         Float
  f32       Float    @db.Float32
  dec       Decimal
  money     Decimal  @db.Decimal(18, 2)
  ts        DateTime
  tsMicro   DateTime @db.DateTime64(6)
  tsSec     DateTime @db.DateTime64(0)
  day       DateTime @db.Date
  doc       Json
  bytes     Bytes
  level     Level
  optS      String?
  optI      Int?
  tags      String[]
  nums      BigInt[]
  levels    Level[]
  withDefault String @default("fallback")
}
`;

const full = {
  id: "full",
  s: "héllo \"quoted\" \\ back\nslash ☃",
  sLow: "low-card",
  sFixed: "abc",
  uuid: "0f8fad5b-d9cb-469f-a165-70867728950e",
  b: true,
  i: -2147483648,
  i8: -128,
  u8: 255,
  u32: 4294967295,
  big: "-9223372036854775808",
  u64: "18446744073709551615",
  i128: "-170141183460469231731687303715884105728",
  f: 0.1 + 0.2,
  f32: 1.5,
  dec: "12345678901234567890123456789.123456789",
  money: "-1234567890123456.78",
  ts: "2026-03-04T05:06:07.891Z",
  tsMicro: "2026-03-04T05:06:07.123456Z",
  tsSec: "2026-03-04T05:06:07Z",
  day: "2024-02-29",
  doc: { nested: { list: [1, "two", null, true], n: 12345678901234567890 } },
  bytes: Buffer.from([0, 1, 2, 250, 255]).toString("base64"),
  level: "high",
  optS: "present",
  optI: 7,
  tags: ["a", "b,c", ""],
  nums: ["9007199254740993", "-1"],
  levels: ["low", "high"],
  withDefault: "given",
};

describe("type round-trip through ingest, stream, table and /query", () => {
  let dir: string;
  let dev: DevProcess;

  beforeAll(async () => {
    dir = initProject("types");
    writeFileSync(join(dir, "datamodels", "AllTypes.prisma"), MODEL);
    dev = await startDev(dir);
  });
  afterAll(async () => {
    await dev?.stop();
    removeDir(dirname(dir));
  });

  test("every type comes back equal", async () => {
    const sparse = { ...full, id: "sparse", optS: null, optI: undefined, tags: [], nums: [], levels: [], withDefault: undefined };
    const { status, body } = await postIngest(dev.url, "AllTypes", [full, sparse]);
    expect(body.errors).toEqual([]);
    expect(status).toBe(200);
    const rows = await eventually(() => query(dev.url, "SELECT * FROM AllTypes ORDER BY id"), (r) => r.length === 2);
    const [got, gotSparse] = rows as [Record<string, unknown>, Record<string, unknown>];

    // JSON text: compared as parsed values; the big number is beyond float64 so JSON keeps its text.
    expect(JSON.parse(got.doc as string)).toEqual(JSON.parse(JSON.stringify(full.doc)));
    const { doc: _doc, ...rest } = got;
    const { doc: _fullDoc, ...expected } = full;
    expect(rest).toEqual({
      ...expected,
      f32: 1.5,
      dec: "12345678901234567890123456789.123456789",
    });
    expect(got.ts).toBe("2026-03-04T05:06:07.891Z");
    expect(got.tsMicro).toBe("2026-03-04T05:06:07.123456Z");

    expect(gotSparse.optS).toBeNull();
    expect(gotSparse.optI).toBeNull();
    expect(gotSparse.tags).toEqual([]);
    expect(gotSparse.withDefault).toBe("fallback");
  });

  test("dates before 1970 and after 2106 are kept", async () => {
    const old = { ...full, id: "old", ts: "1900-01-01T00:00:00.001Z", tsSec: "2299-12-31T23:59:59Z", day: "1900-01-01" };
    const { body } = await postIngest(dev.url, "AllTypes", old);
    expect(body.errors).toEqual([]);
    const [row] = await eventually(() => query(dev.url, "SELECT ts, tsSec, day FROM AllTypes WHERE id = 'old'"), (r) => r.length === 1);
    expect(row).toEqual({ ts: old.ts, tsSec: old.tsSec, day: old.day });
  });

  test("inputs in other accepted forms are normalised exactly", async () => {
    const variant = {
      ...full,
      id: "variant",
      big: 42, // a safe integer as a number
      money: 3.5, // a number into Decimal(18, 2)
      ts: 1767225600123, // epoch milliseconds
      tsMicro: "2026-03-04T07:06:07.123456+02:00", // an offset
      uuid: full.uuid.toUpperCase(),
    };
    const { body } = await postIngest(dev.url, "AllTypes", variant);
    expect(body.errors).toEqual([]);
    const [row] = await eventually(() => query(dev.url, "SELECT big, money, ts, tsMicro, uuid FROM AllTypes WHERE id = 'variant'"), (r) => r.length === 1);
    expect(row).toEqual({
      big: "42",
      money: "3.50",
      ts: "2026-01-01T00:00:00.123Z",
      tsMicro: "2026-03-04T05:06:07.123456Z",
      uuid: full.uuid,
    });
  });

  test("values out of range or beyond the declared precision are rejected, not altered", async () => {
    const bad = [
      { ...full, id: "x1", u8: 256 },
      { ...full, id: "x2", i8: -129 },
      { ...full, id: "x3", u64: "18446744073709551616" },
      { ...full, id: "x4", money: "1.234" },
      { ...full, id: "x5", ts: "2026-03-04T05:06:07.8915Z" },
      { ...full, id: "x6", big: 9007199254740993 },
      { ...full, id: "x7", day: "2023-02-29" },
      { ...full, id: "x8", level: "medium" },
      { ...full, id: "x9", sFixed: "abcd" },
      { ...full, id: "x10", bytes: "not base64!" },
    ];
    const { body } = await postIngest(dev.url, "AllTypes", bad);
    expect(body.accepted).toBe(0);
    expect(body.errors.map((e: { message: string }) => e.message.match(/`(\w+)`/)?.[1])).toEqual(["u8", "i8", "u64", "money", "ts", "big", "day", "level", "sFixed", "bytes"]);
  });
});
