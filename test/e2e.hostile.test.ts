/**
 * Bad and hostile input: every case gets a clear 4xx with a message, nothing is stored,
 * and the server keeps serving.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { dirname } from "node:path";
import { countRows, eventually, initProject, postIngest, removeDir, startDev, type DevProcess } from "./helpers/igloo.ts";

const MAX_BODY = 64 * 1024;
const valid = { orderId: "h-1", ts: "2026-01-01T00:00:00Z", userId: "u", amount: "1.00", items: [] };

describe("hostile and malformed requests", () => {
  let dir: string;
  let dev: DevProcess;

  beforeAll(async () => {
    dir = initProject("hostile");
    dev = await startDev(dir, { args: ["--max-body-bytes", String(MAX_BODY)] });
  });
  afterAll(async () => {
    await dev?.stop();
    removeDir(dirname(dir));
  });

  const deep = (n: number) => "[".repeat(n) + "]".repeat(n);
  const deepObject = (n: number) => `{"orderId":"d","ts":"2026-01-01T00:00:00Z","userId":"u","amount":"1","x":${'{"a":'.repeat(n)}1${"}".repeat(n)}}`;
  const cases: { name: string; body: string | Uint8Array; contentType?: string; status: number; message: RegExp; path?: string }[] = [
    { name: "unparseable JSON", body: '{"orderId": "x",', status: 400, message: /not valid JSON/ },
    { name: "empty body", body: "", status: 400, message: /empty/ },
    { name: "a JSON scalar", body: "42", status: 400, message: /object or an array/ },
    { name: "wrong content type", body: "a,b,c", contentType: "text/csv", status: 415, message: /content-type/ },
    { name: "form-encoded body", body: "a=1", contentType: "application/x-www-form-urlencoded", status: 415, message: /application\/json/ },
    { name: "body over the limit", body: JSON.stringify([valid]).padEnd(MAX_BODY + 10, " "), status: 413, message: /limit/ },
    { name: "deeply nested arrays", body: deep(30_000), status: 400, message: /deeper than 67/ },
    { name: "deeply nested object in a record", body: deepObject(5_000), status: 400, message: /deeper than 67/ },
    { name: "__proto__ key", body: `[{"__proto__": {"polluted": true}, ${JSON.stringify(valid).slice(1)}]`, status: 400, message: /__proto__/ },
    { name: "escaped __proto__ key", body: `{"\\u005f_proto__": {"polluted": true}}`, status: 400, message: /__proto__/ },
    { name: "unknown model", body: JSON.stringify(valid), status: 404, message: /unknown model `Nope`.*Purchase/, path: "/ingest/Nope" },
    { name: "invalid UTF-8 bytes", body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), status: 400, message: /not valid JSON/ },
  ];

  for (const c of cases) {
    test(`${c.name}: ${c.status} with a message, server still serving`, async () => {
      const response = await fetch(`${dev.url}${c.path ?? "/ingest/Purchase"}`, {
        method: "POST",
        headers: { "content-type": c.contentType ?? "application/json" },
        body: c.body,
      });
      expect(response.status).toBe(c.status);
      const body = (await response.json()) as { error: string };
      expect(body.error).toMatch(c.message);
      expect((await fetch(`${dev.url}/health`)).status).toBe(200);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  }

  test("a chunked body over the limit is refused too", async () => {
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 10; i++) controller.enqueue(new Uint8Array(MAX_BODY / 4).fill(0x20));
        controller.close();
      },
    });
    const response = await fetch(`${dev.url}/ingest/Purchase`, { method: "POST", headers: { "content-type": "application/json" }, body: chunks });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: string }).error).toMatch(/larger than the .* limit \(IGLOO_MAX_BODY_BYTES\)/);
    expect((await fetch(`${dev.url}/health`)).status).toBe(200);
  });

  test("a declared length far over the limit is refused with a message before the body is read", async () => {
    const socket = await Bun.connect({
      hostname: "127.0.0.1",
      port: dev.port,
      socket: { data: (s, data) => void (answer += new TextDecoder().decode(data)) },
    });
    let answer = "";
    socket.write(`POST /ingest/Purchase HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${10 * 1024 ** 3}\r\n\r\n[`);
    const deadline = Date.now() + 5_000;
    while (!answer.includes("}") && Date.now() < deadline) await Bun.sleep(20);
    socket.end();
    expect(answer).toMatch(/^HTTP\/1.1 413/);
    expect(answer).toMatch(/"error":"the request body is larger than the .* limit \(IGLOO_MAX_BODY_BYTES\)/);
  });

  test("unknown endpoints and methods get a JSON 404", async () => {
    const response = await fetch(`${dev.url}/nope`);
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: string }).error).toMatch(/no such endpoint/);
  });

  test("after all that, nothing was stored and valid ingest still works", async () => {
    const { status, body } = await postIngest(dev.url, "Purchase", valid);
    expect(status).toBe(200);
    expect(body.accepted).toBe(1);
    await eventually(() => countRows(dev.url, "Purchase"), (n) => n === 1);
    await Bun.sleep(500);
    expect(await countRows(dev.url, "Purchase")).toBe(1);
    expect(await countRows(dev.url, "igloo_dead_letters")).toBe(0);
  });
});
