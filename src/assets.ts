/**
 * Folders shipped inside the compiled binary (`compile.assets` in build.ts) and read from
 * the repository when running from source. A compiled binary keeps each asset folder
 * under its last path component (`packages/igloo` becomes `igloo`), so assets are asked
 * for by their repository path and this maps it.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { IglooError } from "../conventions/errors.ts";

export function assetPath(relative: string): string {
  return Bun.isStandaloneExecutable ? join(import.meta.dir, basename(relative)) : join(import.meta.dir, "..", relative);
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
    if (!Bun.isStandaloneExecutable && !existsSync(path)) {
      throw new IglooError("E_NOT_BUILT", `${what} is not built (${path} is missing)`, { hint: "Run `bun build.ts` (npm run build) once." });
    }
    // Read, not copied: a compiled binary's embedded files cannot be copied from.
    return (cached = readFileSync(path, "utf8"));
  };
}
