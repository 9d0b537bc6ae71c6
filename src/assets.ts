/**
 * Folders shipped inside the compiled binary (`compile.assets` in build.ts) and read from
 * the repository when running from source. A compiled binary keeps each asset folder
 * under its last path component (`packages/igloo` becomes `igloo`), so assets are asked
 * for by their repository path and this maps it.
 */
import { basename, join } from "node:path";

export function assetPath(relative: string): string {
  return Bun.isStandaloneExecutable ? join(import.meta.dir, basename(relative)) : join(import.meta.dir, "..", relative);
}
