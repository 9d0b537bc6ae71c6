/**
 * Folders shipped inside the compiled binary (`compile.assets` in build.ts), beside the
 * npm package's bundle (scripts/npm/pack.ts), or read from the repository when running
 * from source. A compiled binary keeps each asset folder under its last path component
 * (`packages/igloo` becomes `igloo`), so assets are asked for by their repository path
 * and this maps it. The package keeps the repository's layout, its bundle in `lib/`
 * as this file is in `src/`.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { IglooError } from "../conventions/errors.ts";

/** Set by the npm package's bundler (scripts/npm/pack.ts `define`); undeclared anywhere else. */
declare const IGLOO_DISTRIBUTION: string | undefined;

/**
 * How this igloo was shipped: `binary`, the executable build.ts compiles (assets inside,
 * chDB's addon beside it); `package`, the npm package's bundle run by the Bun of its `bun`
 * dependency (chDB in its node_modules); `source`, `bun src/cli.ts` in the repository.
 */
export const DISTRIBUTION: "binary" | "package" | "source" = Bun.isStandaloneExecutable
  ? "binary"
  : typeof IGLOO_DISTRIBUTION !== "undefined" && IGLOO_DISTRIBUTION === "package"
    ? "package"
    : "source";

export function assetPath(relative: string): string {
  return DISTRIBUTION === "binary" ? join(import.meta.dir, basename(relative)) : join(import.meta.dir, "..", relative);
}

/**
 * A browser bundle build.ts writes (and the binary embeds), read once when first asked
 * for. Running from source before a build, it says how to build instead of a bare ENOENT.
 */
export function bundledText(bundle: string, file: string, what: string): () => string {
  let cached: string | undefined;
  return () => {
    if (cached !== undefined) return cached;
    const path = join(assetPath(bundle), file);
    if (DISTRIBUTION === "source" && !existsSync(path)) {
      throw new IglooError("E_NOT_BUILT", `${what} is not built (${path} is missing)`, { hint: "Run `bun build.ts` (npm run build) once." });
    }
    // Read, not copied: a compiled binary's embedded files cannot be copied from.
    return (cached = readFileSync(path, "utf8"));
  };
}
