/**
 * chDB binds one data directory per process: a second store on another directory fails
 * ("only one active data directory per process"). Whatever opens chDB in a process that
 * may hold several stores (the tests of a project, our own test suites) asks for the
 * process's directory here; the stores keep apart by database. Removed at exit.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

let path: string | undefined;

export function processChdbPath(): string {
  if (path === undefined) {
    const dir = mkdtempSync(join(tmpdir(), "igloo-chdb-"));
    path = join(dir, "chdb");
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  return path;
}
