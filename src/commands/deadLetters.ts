/** `igloo dead-letters replay --source <name> [--since <time>]`: asks the running project to feed dead letters again. */
import { IglooError } from "../../conventions/errors.ts";
import type { ReplayReport } from "../../runtime/deadLetters/replay.ts";

export async function replayDeadLetters(url: string, request: { source: string; since?: string }, key?: string): Promise<ReplayReport> {
  let response: Response;
  try {
    response = await fetch(`${url}/dead-letters/replay`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify(request),
    });
  } catch (error) {
    throw new IglooError("E_NOT_RUNNING", `cannot reach Igloo at ${url}.`, { hint: "Start it with `igloo dev` in the project, or pass --url.", cause: error });
  }
  const body = (await response.json()) as ReplayReport & { error?: string };
  if (!response.ok) throw new IglooError("E_REPLAY", body.error ?? `replay failed with HTTP ${response.status}`);
  return body;
}

export function formatReplay(report: ReplayReport): string {
  const lines = [
    `${report.read} dead letters of ${report.kind} ${report.source} read: ${report.refed} fed again` +
      (report.kind === "function" ? " through the function" : "") +
      `, ${report.refusedAgain} refused again. Each is stored once, however often you replay.`,
  ];
  for (const error of report.errors) lines.push(`  refused again: ${error}`);
  if (report.more) lines.push(`More dead letters wait: run again with --since "${report.until}".`);
  return lines.join("\n");
}
