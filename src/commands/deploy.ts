/**
 * `igloo deploy [--check] [--allow-destructive]`, `igloo rollback` and `igloo status`, run
 * with the production environment (IGLOO_CLICKHOUSE_URL at least). Deploy checks the
 * project as `igloo check` does and hands the result to the rollout (runtime/deploy),
 * which plans, migrates and switches the running processes; status reads their heartbeats.
 */
import { userInfo, hostname } from "node:os";
import { join } from "node:path";
import { IglooError } from "../../conventions/errors.ts";
import { isProject } from "../../conventions/project.ts";
import { DeployChannel, type ProcessReport } from "../../runtime/deploy/channel.ts";
import { LIVE_MS, rollout, type RolloutReport } from "../../runtime/deploy/rollout.ts";
import { DashboardFolder } from "../../runtime/server/dashboards.ts";
import { withStore } from "../engines.ts";
import { DASHBOARDS_DIR, releaseOf } from "../manifest.ts";
import { CheckFailedError } from "./build.ts";
import { checkProject, formatCheckSummary } from "./check.ts";

export interface DeployOptions {
  readonly check: boolean;
  readonly allowDestructive: boolean;
  /** How long each step waits for the processes (default 60 s). */
  readonly waitMs?: number;
  readonly say: (line: string) => void;
}

const DEFAULT_WAIT_MS = 60_000;

function deployer(): string {
  let user = "unknown";
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (a container's uid): the host says enough.
  }
  return `${user}@${hostname()}`;
}

export async function deployProject(root: string, options: DeployOptions): Promise<RolloutReport> {
  if (!isProject(root)) throw new IglooError("E_NOT_A_PROJECT", `${root} has no datamodels/ folder.`, { hint: "Run `igloo deploy` in a project." });
  const check = await checkProject(root);
  if (check.problems.length > 0) throw new CheckFailedError(check);
  options.say(formatCheckSummary(check));
  const folder = new DashboardFolder(join(root, DASHBOARDS_DIR), { live: false });
  const dashboards = Object.fromEntries(folder.names().map((name) => [name, folder.page(name) ?? ""]));
  const release = releaseOf(
    { models: check.models, views: check.views, functions: check.functions.map((f) => f.ir), dashboards },
    { version: 0, createdAt: new Date().toISOString(), by: deployer() },
  );
  return await withStore(root, (store) => rollout(store, release, { ...options, keepColumns: false, waitMs: options.waitMs ?? DEFAULT_WAIT_MS }));
}

/** Back to the version deployed before the one running now. */
export async function rollbackProject(dir: string, options: DeployOptions): Promise<RolloutReport> {
  return await withStore(dir, async (store) => {
    const state = await new DeployChannel(store).state();
    const current = state.target?.worker;
    const previous = [...state.history].reverse().find((t) => t.worker !== current)?.worker;
    if (current === undefined || previous === undefined) {
      throw new IglooError("E_NO_PREVIOUS", current === undefined ? "nothing is deployed on these engines." : `version ${current} is the only version deployed here.`, {
        hint: "`igloo status` shows what runs.",
      });
    }
    options.say(`rolling back from version ${current} to version ${previous}`);
    return await rollout(store, state.releases.get(previous)!, { ...options, keepColumns: true, waitMs: options.waitMs ?? DEFAULT_WAIT_MS });
  });
}

export interface Status {
  readonly deployed: { readonly ingest: number; readonly worker: number; readonly by: string; readonly at: string } | undefined;
  readonly processes: readonly (ProcessReport & { readonly live: boolean })[];
}

/** What is deployed and every process seen in the last minute (`live`: within LIVE_MS). */
export async function deploymentStatus(dir: string): Promise<Status> {
  return await withStore(dir, async (store) => {
    const channel = new DeployChannel(store);
    const state = await channel.state();
    const release = state.target === undefined ? undefined : state.releases.get(state.target.worker);
    const now = Date.now();
    const processes = (await channel.processes(60_000)).map((p) => ({ ...p, live: now - p.seenAt <= LIVE_MS }));
    return {
      deployed: state.target === undefined ? undefined : { ...state.target, by: release?.by ?? "", at: release?.createdAt ?? "" },
      processes,
    };
  });
}

export function formatStatus(status: Status): string {
  const lines: string[] = [];
  const d = status.deployed;
  if (d === undefined) lines.push("Nothing deployed (processes run their build directories).");
  else lines.push(`Deployed: version ${d.worker}${d.ingest !== d.worker ? ` (ingest still on ${d.ingest})` : ""}, by ${d.by} at ${d.at}`);
  if (status.processes.length === 0) {
    lines.push("No process seen in the last minute.");
    return lines.join("\n");
  }
  const rows = status.processes.map((p) => [
    p.id,
    p.role,
    String(p.version),
    p.backlog < 0 ? "-" : String(p.backlog),
    `${((Date.now() - p.seenAt) / 1000).toFixed(1)} s ago`,
    !p.live ? "gone?" : p.error !== "" ? `error: ${p.error}` : p.holds.length > 0 ? `writers held (${p.holds.length})` : "ok",
  ]);
  const header = ["PROCESS", "ROLE", "VERSION", "BACKLOG", "SEEN", "STATE"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows]) lines.push(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  "));
  return lines.join("\n");
}

export function formatRollout(report: RolloutReport, check: boolean): string {
  if (report.unchanged) return `${report.text}\nVersion ${report.version} is already deployed; nothing to do.`;
  if (check) {
    return `${report.text}\n${report.plan.destructive ? "The plan drops or rewrites data: `igloo deploy --allow-destructive` applies it." : report.plan.drift.length > 0 ? "The database drifted: nothing can be deployed until that is resolved." : `Ready to deploy as version ${report.version}.`}`;
  }
  const { worker, ingest } = report.switched;
  return `${report.text}\ndeployed version ${report.version}: ${worker} worker and ${ingest} ingest process${worker + ingest === 1 ? "" : "es"} switched in ${(report.ms / 1000).toFixed(1)} s.`;
}
