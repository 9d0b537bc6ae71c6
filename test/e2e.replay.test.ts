/**
 * Dead letters replayed after a fix: `igloo dead-letters replay --source <name>`. A
 * model's refused records, once the model takes them, and a function's refused inputs,
 * once the function is fixed, are stored exactly once, however often the replay runs.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { countRows, eventually, IGLOO, initProject, postIngest, removeDir, startDev, type DevProcess } from "./helpers/igloo.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => removeDir(dirname(d))));

const MODELS = (batteryType: string) => `
model Reading {
  id      String @id
  battery Int @db.${batteryType}
}

model Order {
  id   String @id
  mode String
}

model Shipment {
  orderId String
}
`;
const SHIP = (broken: boolean) => `import { defineFunction } from "igloo";
export default defineFunction({
  from: "Order",
  to: "Shipment",
  run(order) {
    ${broken ? 'if (order.mode === "fragile") throw new Error("cannot ship " + order.id);' : ""}
    return { orderId: order.id };
  },
});
`;

function replay(dev: DevProcess, source: string): { code: number; out: string; err: string } {
  const run = Bun.spawnSync([IGLOO, "dead-letters", "replay", "--source", source, "--url", dev.url], { stdout: "pipe", stderr: "pipe" });
  return { code: run.exitCode, out: run.stdout.toString(), err: run.stderr.toString() };
}

describe("dead-letters replay", () => {
  test("a model's and a function's dead letters, replayed after the fix, are stored once, also when replayed twice", async () => {
    const dir = initProject("replay");
    dirs.push(dir);
    writeFileSync(join(dir, "datamodels", "Replay.prisma"), MODELS("UInt8"));
    writeFileSync(join(dir, "functions", "ship.ts"), SHIP(true));
    const dev = await startDev(dir);
    try {
      const readings = Array.from({ length: 50 }, (_, i) => ({ id: `r${i}`, battery: i % 5 === 0 ? 1000 + i : i }));
      expect((await postIngest(dev.url, "Reading", readings)).body).toMatchObject({ accepted: 40, rejected: 10 });
      const orders = Array.from({ length: 30 }, (_, i) => ({ id: `o${i}`, mode: i % 3 === 0 ? "fragile" : "normal" }));
      expect((await postIngest(dev.url, "Order", orders)).body).toMatchObject({ accepted: 30 });
      await eventually(() => countRows(dev.url, "igloo_dead_letters"), (n) => n >= 20);
      await eventually(() => countRows(dev.url, "Shipment"), (n) => n >= 20);

      // Nothing changed yet: the records are refused again, and nothing is stored twice.
      const early = replay(dev, "Reading");
      expect(early.code).toBe(0);
      expect(early.out).toMatch(/10 dead letters of model Reading read: 0 fed again, 10 refused again/);

      // The fixes: a wider column (confirmed), a function that ships fragile orders.
      const mark = dev.output().length;
      writeFileSync(join(dir, "datamodels", "Replay.prisma"), MODELS("UInt16"));
      await eventually(async () => dev.output().slice(mark), (out) => /held: .*Reading\.battery/.test(out), 10_000);
      dev.type("y");
      await eventually(async () => dev.output().slice(mark), (out) => /\n  change Reading\.battery from UInt8 to UInt16/.test(out), 10_000);
      writeFileSync(join(dir, "functions", "ship.ts"), SHIP(false));
      await eventually(async () => dev.output().slice(mark), (out) => out.includes("reloaded function ship"), 10_000);

      for (let round = 0; round < 2; round++) {
        const models = replay(dev, "Reading");
        expect({ round, code: models.code, err: models.err }).toEqual({ round, code: 0, err: "" });
        expect(models.out).toMatch(/10 dead letters of model Reading read: 10 fed again, 0 refused again/);
        const fn = replay(dev, "ship");
        expect(fn.code).toBe(0);
        expect(fn.out).toMatch(/10 dead letters of function ship read: 10 fed again through the function, 0 refused again/);
      }
      await eventually(() => countRows(dev.url, "Reading"), (n) => n >= 50);
      await eventually(() => countRows(dev.url, "Shipment"), (n) => n >= 30);
      await Bun.sleep(1_000);
      expect(await countRows(dev.url, "Reading")).toBe(50);
      expect(await countRows(dev.url, "Reading", "battery >= 1000")).toBe(10);
      expect(await countRows(dev.url, "Shipment")).toBe(30);

      const unknown = replay(dev, "Nope");
      expect(unknown.code).toBe(1);
      expect(unknown.err).toMatch(/`Nope` is neither a model nor a function/);
    } finally {
      await dev.stop();
    }
  }, 120_000);
});
