import { link, readFile, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { IglooError } from "../../../conventions/errors.ts";
import { errorCode } from "./files.ts";

/**
 * A `LOCK` file holding the owner's pid keeps two processes from appending to the same
 * log, which would interleave frames. The file is written under a temporary name and
 * hard-linked into place: `link` fails when LOCK exists, like an exclusive create, but
 * the pid is already in it, so no one ever reads a half-written lock.
 *
 * A lock whose pid is not alive (the owner was killed) is taken over. Two processes
 * taking over the same stale lock at the same instant could both succeed; for a
 * development server that race is accepted rather than depending on flock.
 */
export class DirectoryLock {
  readonly #path: string;

  private constructor(path: string) {
    this.#path = path;
  }

  static async acquire(directory: string): Promise<DirectoryLock> {
    const path = join(directory, "LOCK");
    const temporary = `${path}.${process.pid}.tmp`;
    await writeFile(temporary, `${process.pid}\n`);
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          await link(temporary, path);
          return new DirectoryLock(path);
        } catch (error) {
          if (errorCode(error) !== "EEXIST") throw error;
        }
        const owner = await readOwner(path);
        if (owner !== undefined && isAlive(owner)) {
          throw new IglooError(
            "E_STREAM_LOCKED",
            `The stream directory ${directory} is in use by process ${owner}${owner === process.pid ? " (this process)" : ""}.`,
            { hint: `Stop that process, or delete ${path} if it is not an Igloo process.` },
          );
        }
        await unlink(path).catch((error: unknown) => {
          if (errorCode(error) !== "ENOENT") throw error;
        });
      }
      throw new IglooError("E_STREAM_LOCKED", `Could not take the lock ${path}: other processes keep taking it.`);
    } finally {
      await unlink(temporary);
    }
  }

  /** Removes the lock if it is still ours. */
  async release(): Promise<void> {
    if ((await readOwner(this.#path)) === process.pid) await unlink(this.#path);
  }
}

/** The pid in a lock file; undefined when the file vanished or holds no pid. */
async function readOwner(path: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await readFile(path, "utf8"), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    throw error;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return errorCode(error) === "EPERM";
  }
}
