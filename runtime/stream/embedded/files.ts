import { open, rename, unlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";

/**
 * Small durable-file helpers. All asynchronous: fsync runs on Bun's thread pool, so a
 * slow disk delays the appends waiting for it, not the event loop.
 */

/** Makes a directory entry (a created, renamed or deleted file) survive power loss. */
export async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes all of `bytes` at `position`, continuing after short writes. */
export async function writeFully(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let written = 0;
  while (written < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, written, bytes.byteLength - written, position + written);
    if (bytesWritten === 0) throw new Error("write made no progress");
    written += bytesWritten;
  }
}

/** Reads exactly `length` bytes at `position` into a fresh buffer. */
export async function readFully(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let read = 0;
  while (read < length) {
    const { bytesRead } = await handle.read(buffer, read, length - read, position + read);
    if (bytesRead === 0) throw new Error(`unexpected end of file reading ${length} bytes at ${position}`);
    read += bytesRead;
  }
  return buffer;
}

/**
 * Replaces `path` atomically and durably: write a temporary file, fsync it, rename it over
 * the old one, fsync the directory. A crash leaves either the old or the new content.
 */
export async function replaceFileDurably(path: string, directory: string, content: string): Promise<void> {
  const temporary = `${path}.tmp`;
  const handle = await open(temporary, "w");
  try {
    await writeFully(handle, Buffer.from(content, "utf8"), 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await fsyncDirectory(directory);
}

export function errorCode(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "string") {
    return error.code;
  }
  return undefined;
}
