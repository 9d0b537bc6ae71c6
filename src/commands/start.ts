/**
 * `igloo start`: a build directory in production on Kafka (or Redpanda) and a ClickHouse
 * server. Roles split the work so each scales on its own:
 *   ingest  the HTTP API; stateless, run as many as you like behind a load balancer
 *   worker  table writers and functions; workers share topics through consumer groups,
 *           so adding one spreads the partitions and a dead one's partitions move over
 *   all     both in one process
 * A production process changes no schema: it checks the live tables against its build
 * and refuses to run when they differ (run `igloo migrate`). It requires API keys.
 *
 * What it runs is the version `igloo deploy` published for its role, read from the
 * deployment's ClickHouse database (runtime/deploy), or before any deploy the build
 * directory it starts in. It follows later deploys without a restart.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IglooError } from "../../conventions/errors.ts";
import type { Logger } from "../../runtime/observability/logger.ts";
import { createApp, type IglooApp } from "../../runtime/server/app.ts";
import { assembleRuntime } from "../projectRuntime.ts";
import { KeyRing, parseKeyEntries } from "../../runtime/server/auth.ts";
import { RequestGate } from "../../runtime/server/gate.ts";
import { DASHBOARD_NAME, DashboardFolder } from "../../runtime/server/dashboards.ts";
import { DeployChannel, versionFor, type ChannelState, type Release } from "../../runtime/deploy/channel.ts";
import { DeployFollower } from "../../runtime/deploy/follower.ts";
import { listen, stopServer } from "../listen.ts";
import { loadConfig } from "../config.ts";
import { openProductionEngines } from "../engines.ts";
import { loadFunctions, MANIFEST_FILE, releaseOfBuild } from "../manifest.ts";

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
  const engines = await openProductionEngines(config, { reads: serveApi, logger });
  const runtime = assembleRuntime(engines, logger, config.limits, { migrate: false, writers: work });
  const { pipeline, functions, views, subscriptions } = runtime;
  const channel = new DeployChannel(engines.store);
  const dashboards = new ReleaseDashboards();
  let ready = false;
  let server: IglooApp | undefined;
  let follower: DeployFollower | undefined;
  try {
    const state = await channel.state();
    const release = startingRelease(dir, state, role, logger);
    /** Runs a release: views checked first (they are built by the deploy), then models, functions, dashboards. */
    const run = async (next: Release) => {
      const live = await views.attach();
      const missing = next.views.filter((v) => live.get(v.name) !== v.sql).map((v) => v.name);
      if (missing.length > 0) {
        throw new IglooError("E_SCHEMA_DRIFT", `views not migrated to this version: ${missing.join(", ")}.`, { hint: "Deploy with `igloo deploy` (or run `igloo migrate` in the build directory), then start again." });
      }
      const loaded = work ? await loadFunctions(next.functions) : [];
      await pipeline.apply(next.models);
      if (work) await functions.apply(loaded);
      dashboards.write(next.dashboards);
    };
    follower = new DeployFollower(
      channel,
      role,
      state,
      release.version,
      {
        switchTo: run,
        ...(work ? { pause: (table: string) => pipeline.pauseWriter(table), backlog: async () => (await pipeline.backlog()).reduce((sum, b) => sum + b.records, 0) } : {}),
      },
      logger,
    );
    // Holds in force pause their tables before any writer starts.
    await follower.holdAsLogged();
    await run(release);
    await follower.start();
    const app = createApp({
      ...runtime.app,
      keys,
      ready: () => ready,
      // Production answers any host name (a proxy usually sets it); keys guard every route.
      gate: new RequestGate({ allowedHosts: "any", corsOrigins: config.corsOrigins, loopbackOrigins: false }),
      api: serveApi,
      dashboards: dashboards.folder,
    });
    server = listen(app, { port: options.port ?? config.port, host: config.host, maxBodyBytes: config.limits.maxBodyBytes });
  } catch (error) {
    await follower?.stop();
    await runtime.close();
    dashboards.remove();
    throw error;
  }
  ready = true;
  const url = `http://${config.host}:${server.server?.port ?? options.port ?? config.port}`;
  logger.info(`igloo start ready at ${url}`, { role, version: follower.version, models: pipeline.projectModels().map((m) => m.name), functions: work ? functions.names() : [] });
  let stopped: Promise<void> | undefined;
  const running = follower;
  return {
    url,
    stop: () =>
      (stopped ??= (async () => {
        ready = false;
        await running.stop();
        subscriptions.closeAll();
        await stopServer(server);
        await runtime.close();
        dashboards.remove();
      })()),
  };
}

/**
 * The version to start with: the deployed one for this role when there is one (every
 * process of a deployment runs what was deployed, whatever build directory it starts
 * in), else the build directory's.
 */
function startingRelease(dir: string, state: ChannelState, role: Role, logger: Logger): Release {
  const deployed = state.target === undefined ? undefined : state.releases.get(versionFor(state.target, role));
  const hasBuild = existsSync(join(dir, MANIFEST_FILE));
  if (deployed !== undefined) {
    if (hasBuild && releaseOfBuild(dir).hash !== deployed.hash) {
      logger.warn(`this build directory differs from the deployed version ${deployed.version}; running version ${deployed.version}. Publish a build with \`igloo deploy\` in its project.`);
    }
    return deployed;
  }
  if (hasBuild) return releaseOfBuild(dir);
  throw new IglooError("E_NOTHING_DEPLOYED", `nothing is deployed on these engines, and ${dir} is not a build directory (no ${MANIFEST_FILE}).`, {
    hint: "Run `igloo deploy` in the project with the production environment, or `igloo start` in a directory made by `igloo build`.",
  });
}

/**
 * The dashboards of the release a process runs, as files (DashboardFolder serves a folder):
 * a private temporary folder, rewritten on each switch and removed at the end.
 */
class ReleaseDashboards {
  readonly #dir = mkdtempSync(join(tmpdir(), "igloo-dashboards-"));
  readonly folder = new DashboardFolder(this.#dir, { live: false });

  write(pages: Readonly<Record<string, string>>): void {
    for (const name of this.folder.names()) if (!(name in pages)) rmSync(join(this.#dir, `${name}.html`), { force: true });
    for (const [name, html] of Object.entries(pages)) if (DASHBOARD_NAME.test(name)) writeFileSync(join(this.#dir, `${name}.html`), html);
  }

  remove(): void {
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
