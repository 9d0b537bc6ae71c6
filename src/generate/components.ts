/**
 * The dashboard elements' module (packages/components), bundled by build.ts into one
 * minified ES module, which the binary embeds: served at `GET /_igloo/components.js` and
 * written into each generated client as `components.js`.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { IglooError } from "../../conventions/errors.ts";
import { assetPath } from "../assets.ts";

/** Where build.ts puts the bundle, and the binary's asset folder of the same name. */
export const COMPONENTS_BUNDLE = "build/components-bundle";
export const COMPONENTS_FILE = "components.js";

let cached: string | undefined;

export function componentsModule(): string {
  if (cached !== undefined) return cached;
  const path = join(assetPath(COMPONENTS_BUNDLE), COMPONENTS_FILE);
  if (!Bun.isStandaloneExecutable && !existsSync(path)) {
    throw new IglooError("E_NO_COMPONENTS", `the dashboard elements are not built (${path} is missing)`, { hint: "Run `bun build.ts` (npm run build) once." });
  }
  return (cached = readFileSync(path, "utf8"));
}
