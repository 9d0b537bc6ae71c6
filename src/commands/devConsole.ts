/**
 * What `igloo dev` gives its console (runtime/server/console.ts) beyond the running parts:
 * the console's module, bundled by build.ts from packages/console and embedded in the
 * binary (read with readFileSync, the only way a compiled binary reads its assets), the
 * query limits with the settings that change them, and the dev project's held changes,
 * problems and reload log. Production (`igloo start`) serves no console.
 */
import type { LimitInfo } from "../../packages/console/protocol.ts";
import type { ServerLimits } from "../../runtime/limits.ts";
import type { ConsoleProject } from "../../runtime/server/console.ts";
import { bundledText } from "../assets.ts";
import { LIMIT_SETTINGS } from "../config.ts";
import type { DevProject } from "./devProject.ts";

/** Where build.ts puts the bundle, and the binary's asset folder of the same name. */
export const CONSOLE_BUNDLE = "build/console-bundle";
export const CONSOLE_FILE = "console.js";

export const consoleScript: () => string = bundledText(CONSOLE_BUNDLE, CONSOLE_FILE, "the dev console");

/** Each limit a query or a request meets, with the variable that sets it (src/config.ts). */
export function limitInfo(limits: ServerLimits): LimitInfo[] {
  return LIMIT_SETTINGS.flatMap((setting) => {
    // `maxBodyBytes`, `limits.maxRecords`, `limits.query.timeoutMs`: paths into ServerLimits.
    let value: unknown = limits;
    for (const step of setting.key.replace(/^limits\./, "").split(".")) value = (value as Record<string, unknown> | undefined)?.[step];
    return typeof value === "number" ? [{ setting: setting.env, value, doc: setting.doc }] : [];
  });
}

export function consoleProject(project: DevProject, limits: ServerLimits): ConsoleProject {
  return {
    limits: limitInfo(limits),
    held: () => project.held(),
    reloads: () => project.reloads(),
    problems: () => [...project.errors].flatMap(([folder, errors]) => errors.map((error) => ({ folder, message: error.message }))),
    version: () => project.version(),
    applyHeld: () => project.applyHeld(),
  };
}
