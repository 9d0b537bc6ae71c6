/**
 * A view asked for while the ClickHouse server cannot be reached: a 503 to retry, as
 * `POST /query` answers, for `GET /views/<name>` and for a subscription alike, and the
 * answer names neither where the server is nor who Igloo connects as. The store reaches
 * the shared server through a TCP relay of the test's own; stopping the relay leaves a
 * port nobody listens on, a dead engine for this store only.
 */
import { afterAll, expect, test } from "bun:test";
import type { Socket } from "bun";
import { join } from "node:path";
import { DEFAULT_LIMITS } from "../runtime/limits.ts";
import { consoleLogger } from "../runtime/observability/logger.ts";
import { UserReads } from "../runtime/query/userReads.ts";
import { createApp } from "../runtime/server/app.ts";
import { RequestGate } from "../runtime/server/gate.ts";
import { ViewSubscriptions } from "../runtime/live/subscriptions.ts";
import { ClickHouseStore } from "../runtime/store/clickhouse/clickhouseStore.ts";
import { EmbeddedLog } from "../runtime/stream/embedded/embeddedLog.ts";
import { resolveView } from "../runtime/views/viewQuery.ts";
import { removeDir, tempDir } from "../scripts/lib/igloo.ts";
import { sharedClickHouse } from "./helpers/clickhouseServer.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

/** Relays 127.0.0.1:<its port> to `port` until stopped. */
function relay(port: number) {
  type Peer = { out?: Socket<undefined>; pending: Uint8Array[] };
  return Bun.listen<Peer>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(client) {
        client.data = { pending: [] };
        Bun.connect({
          hostname: "127.0.0.1",
          port,
          socket: {
            open(server) {
              client.data.out = server;
              for (const chunk of client.data.pending.splice(0)) server.write(chunk);
            },
            data(_, chunk) {
              client.write(chunk);
            },
            close() {
              client.end();
            },
            error() {
              client.end();
            },
          },
        }).catch(() => client.end());
      },
      data(client, chunk) {
        if (client.data.out) client.data.out.write(chunk);
        else client.data.pending.push(new Uint8Array(chunk));
      },
      close(client) {
        client.data.out?.end();
      },
    },
  });
}

test("a view against an unreachable ClickHouse server is a 503 to retry, read or subscribed", async () => {
  const server = await sharedClickHouse();
  const proxy = relay(server.port);
  const via = `http://127.0.0.1:${proxy.port}`;
  const store = await ClickHouseStore.connect({
    url: via,
    user: server.user,
    password: server.password,
    database: server.database,
    reader: { url: via, user: server.reader.user, password: server.reader.password, database: server.database },
  });
  const dir = tempDir("views-unavailable");
  dirs.push(dir);
  const stream = await EmbeddedLog.open({ dir: join(dir, "stream") });
  const logger = consoleLogger({ quiet: true });
  const table = `unreachable_${process.pid}_${Date.now().toString(36)}`;
  const view = { name: `${table}_count`, kind: "parameterized" as const, sql: `SELECT count() AS c FROM ${table}`, params: [] };
  // The view's own SQL, as ViewManager resolves a parameterized view (resolving touches no engine).
  const views = { resolve: (_: string, raw: Readonly<Record<string, string>>) => resolveView(view, raw), sources: () => [table], generation: () => 0 };
  const reads = new UserReads(store, DEFAULT_LIMITS.query);
  const subscriptions = new ViewSubscriptions({ stream, tables: () => new Map(), views, reads, logger, maxSubscriptions: 10, maxPerClient: 10 });
  const app = createApp({
    pipeline: { target: () => undefined } as never,
    stream,
    reads,
    views,
    subscriptions,
    logger,
    limits: DEFAULT_LIMITS,
    gate: new RequestGate({ allowedHosts: [], corsOrigins: [], loopbackOrigins: true }),
  });
  const get = (path: string) => app.handle(new Request(`http://localhost${path}`));
  try {
    await store.exec(`CREATE TABLE ${table} (n UInt32) ENGINE = MergeTree ORDER BY n`);
    const up = await get(`/views/${view.name}`);
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ data: [{ c: "0" }] });

    proxy.stop(true);
    // POST /query too: it is an admin route (adminOnly), whose handler must be awaited as well.
    const query = () => app.handle(new Request("http://localhost/query", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ sql: `SELECT count() FROM ${table}` }) }));
    for (const [path, ask] of [[`/views/${view.name}`, () => get(`/views/${view.name}`)], [`/views/${view.name}/events`, () => get(`/views/${view.name}/events`)], ["/query", query]] as const) {
      const down = await ask();
      expect({ path, status: down.status, retryAfter: down.headers.get("retry-after") }).toEqual({ path, status: 503, retryAfter: "1" });
      const { error } = (await down.json()) as { error: string };
      expect(error).toMatch(/cannot be reached right now; retry/);
      for (const secret of [server.password, String(proxy.port), server.user, server.reader.user]) expect(error).not.toContain(secret);
    }
  } finally {
    subscriptions.closeAll();
    await stream.close();
    await store.close();
  }
});
