/**
 * `igloo start`: a build directory in production on Kafka (or Redpanda) and a ClickHouse
 * server. Roles split the work so each scales on its own:
 *   ingest  the HTTP API; stateless, run as many as you like behind a load balancer
 *   worker  table writers and functions; workers share topics through consumer groups,
 *           so adding one spreads the partitions and a dead one's partitions move over
 *   all     both in one process
 * A production process changes no schema: it checks the live tables against its build
 * and refuses to run when they differ (run `igloo migrate`). It requires API keys.
 */
import { join } from "node:path";
import { IglooError } from "../../conventions/errors.ts";
import type { Logger } from "../../runtime/observability/logger.ts";
import { createApp, type IglooApp } from "../../runtime/server/app.ts";
import { assembleRuntime } from "../projectRuntime.ts";
import { KeyRing, parseKeyEntries } from "../../runtime/server/auth.ts";
import { RequestGate } from "../../runtime/server/gate.ts";
import { DashboardFolder } from "../../runtime/server/dashboards.ts";
import { listen, stopServer } from "../listen.ts";
import { loadConfig } from "../config.ts";
import { openProductionEngines } from "../engines.ts";
import { DASHBOARDS_DIR, loadBuiltFunctions, readManifest } from "../manifest.ts";

export type Role = "ingest" | "worker" | "all";

export interface StartOptions {
  readonly dir: string;
  readonly role: Role;
  readonly port?: number;
  readonly logger: Logger;
}

export interface ProductionServer {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startProduction(options: StartOptions): Promise<ProductionServer> {
  const { dir, role, logger } = options;
  const manifest = readManifest(dir);
  const config = loadConfig(dir);
  const entries = parseKeyEntries(config.keys);
  if (entries.length === 0) throw new IglooError("E_NO_KEYS", "production mode requires API keys.", { hint: "Create them with `igloo keys create --role ingest|query|admin` and set IGLOO_KEYS." });
  const keys = new KeyRing(entries);

  const serveApi = role !== "worker";
  const work = role !== "ingest";
  if (serveApi && config.clickhouseQueryUrl === undefined) {
    throw new IglooError("E_CONFIG", "IGLOO_CLICKHOUSE_QUERY_URL is not set (nor clickhouse.queryUrl in igloo.config.json): the API answers clients' queries as a read-only ClickHouse user, never as Igloo's own.", {
      hint: "Create the query user (README, Production: the query user) and set its URL, or run this process with --role worker.",
    });
  }
  const runtime = assembleRuntime(await openProductionEngines(config, { reads: serveApi, logger }), logger, config.limits, { migrate: false, writers: work });
  const { pipeline, functions, views, subscriptions } = runtime;
  let ready = false;
  let server: IglooApp | undefined;
  try {
    await pipeline.apply(manifest.models);
    const live = await views.attach();
    const missing = manifest.views.filter((v) => live.get(v.name) !== v.sql).map((v) => v.name);
    if (missing.length > 0) {
      throw new IglooError("E_SCHEMA_DRIFT", `views not migrated to this build: ${missing.join(", ")}.`, { hint: "Run `igloo migrate` in the build directory, then start again." });
    }
    if (work) await functions.apply(await loadBuiltFunctions(dir, manifest));
    const app = createApp({
      ...runtime.app,
      keys,
      ready: () => ready,
      // Production answers any host name (a proxy usually sets it); keys guard every route.
      gate: new RequestGate({ allowedHosts: "any", corsOrigins: config.corsOrigins, loopbackOrigins: false }),
      api: serveApi,
      // What `igloo build` copied; a build never changes, so nothing watches it.
      dashboards: new DashboardFolder(join(dir, DASHBOARDS_DIR), { live: false }),
    });
    server = listen(app, { port: options.port ?? config.port, host: config.host, maxBodyBytes: config.limits.maxBodyBytes });
  } catch (error) {
    await runtime.close();
    throw error;
  }
  ready = true;
  const url = `http://${config.host}:${server.server?.port ?? options.port ?? config.port}`;
  logger.info(`igloo start ready at ${url}`, { role, models: manifest.models.map((m) => m.name), functions: work ? functions.names() : [], build: manifest.builtAt });
  let stopped: Promise<void> | undefined;
  return {
    url,
    stop: () =>
      (stopped ??= (async () => {
        ready = false;
        subscriptions.closeAll();
        await stopServer(server);
        await runtime.close();
      })()),
  };
}
