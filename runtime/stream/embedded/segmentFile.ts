import { open, unlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { fsyncDirectory, readFully } from "./files.ts";
import { FLAG_COMMIT, FRAME_HEADER_BYTES, frameBytes, frameIsIntact, readFrameHeader } from "./segment.ts";
import { SparseIndex } from "./sparseIndex.ts";

/** Frames are read in chunks of this size (bigger when one frame is bigger). */
export const READ_CHUNK_BYTES = 8 * 1024 * 1024;

const NAME_PATTERN = /^(\d{20})\.log$/;

export function segmentFileName(baseOffset: number): string {
  return `${String(baseOffset).padStart(20, "0")}.log`;
}

/** The base offset a segment file name stands for, or undefined for other files. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = NAME_PATTERN.exec(name);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

export interface ScanResult {
  /** Bytes up to the end of the last intact commit frame. */
  readonly validBytes: number;
  /** Offset after the last record of those bytes. */
  readonly nextOffset: number;
  readonly index: SparseIndex;
  /** Why the scan stopped before the end of the file, if it did. */
  readonly problem: string | undefined;
}

/**
 * One segment file. `size` counts durable bytes only: the topic raises it after fdatasync,
 * so readers never see a record that a crash could still take back.
 */
export class Segment {
  size: number;
  deleted = false;
  #handle: FileHandle | undefined;
  #opening: Promise<FileHandle> | undefined;
  #indexing: Promise<SparseIndex> | undefined;
  #readsInFlight = 0;

  private constructor(
    readonly directory: string,
    readonly baseOffset: number,
    size: number,
    handle: FileHandle | undefined,
    index: SparseIndex | undefined,
  ) {
    this.size = size;
    this.#handle = handle;
    if (index) this.#indexing = Promise.resolve(index);
  }

  get path(): string {
    return join(this.directory, segmentFileName(this.baseOffset));
  }

  /** A new, empty segment; its directory entry is made durable before it is used. */
  static async create(directory: string, baseOffset: number): Promise<Segment> {
    const handle = await open(join(directory, segmentFileName(baseOffset)), "wx+");
    try {
      await fsyncDirectory(directory);
    } catch (error) {
      await handle.close();
      throw error;
    }
    return new Segment(directory, baseOffset, 0, handle, new SparseIndex());
  }

  /**
   * A sealed (not last) segment found on open: fully fdatasynced before the next one was
   * created, so it is trusted, opened and indexed only when a reader first needs it. This
   * keeps opening a large log to the cost of its last segment.
   */
  static sealed(directory: string, baseOffset: number, size: number): Segment {
    return new Segment(directory, baseOffset, size, undefined, undefined);
  }

  /**
   * The last segment found on open: verifies every frame's CRC and truncates a torn or
   * corrupt tail back to the end of the last intact flush.
   */
  static async recover(
    directory: string,
    baseOffset: number,
  ): Promise<{ segment: Segment; nextOffset: number; truncated: { bytes: number; reason: string } | undefined }> {
    const handle = await open(join(directory, segmentFileName(baseOffset)), "r+");
    try {
      const { size } = await handle.stat();
      const scan = await scanFrames(handle, size, baseOffset, true);
      let truncated: { bytes: number; reason: string } | undefined;
      if (scan.validBytes < size) {
        await handle.truncate(scan.validBytes);
        await handle.datasync();
        truncated = { bytes: size - scan.validBytes, reason: scan.problem ?? "unknown" };
      }
      const segment = new Segment(directory, baseOffset, scan.validBytes, handle, scan.index);
      return { segment, nextOffset: scan.nextOffset, truncated };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** The handle for writing; only the last segment is written and it is always open. */
  get writer(): FileHandle {
    if (!this.#handle) throw new Error(`segment ${this.path} is not open for writing`);
    return this.#handle;
  }

  async readAt(position: number, length: number): Promise<Buffer> {
    this.#readsInFlight++;
    try {
      return await readFully(await this.#file(), position, length);
    } finally {
      this.#readsInFlight--;
      if (this.deleted && this.#readsInFlight === 0) await this.close();
    }
  }

  /** The segment's sparse index, scanning the file the first time for a sealed segment. */
  sparseIndex(): Promise<SparseIndex> {
    this.#indexing ??= (async () => {
      const scan = await scanFrames(await this.#file(), this.size, this.baseOffset, false);
      if (scan.problem !== undefined) {
        throw new Error(`segment ${this.path} is corrupt at byte ${scan.validBytes}: ${scan.problem}`);
      }
      return scan.index;
    })();
    return this.#indexing;
  }

  /** Deletes the file (retention); the handle closes once reads in flight are done. */
  async remove(): Promise<void> {
    this.deleted = true;
    await unlink(this.path);
    if (this.#readsInFlight === 0) await this.close();
  }

  async close(): Promise<void> {
    const handle = this.#handle ?? (this.#opening ? await this.#opening : undefined);
    this.#handle = undefined;
    this.#opening = undefined;
    await handle?.close();
  }

  async #file(): Promise<FileHandle> {
    if (this.#handle) return this.#handle;
    this.#opening ??= open(this.path, "r");
    this.#handle = await this.#opening;
    return this.#handle;
  }
}

/**
 * Walks the frames of a segment in large chunks. With `verify`, checks every CRC and
 * stops at the first bad frame; either way stops at a missing magic number, an offset gap
 * or a frame running past the end. Index entries are only taken for whole flushes.
 */
export async function scanFrames(
  handle: FileHandle,
  size: number,
  baseOffset: number,
  verify: boolean,
): Promise<ScanResult> {
  const index = new SparseIndex();
  const flushFrames: number[] = [];
  let chunk: Buffer = Buffer.alloc(0);
  let chunkStart = 0;
  let position = 0;
  let offset = baseOffset;
  let validBytes = 0;
  let validOffset = baseOffset;
  let problem: string | undefined;

  const ensure = async (length: number): Promise<void> => {
    if (position >= chunkStart && position + length <= chunkStart + chunk.length) return;
    chunkStart = position;
    chunk = await readFully(handle, position, Math.min(size - position, Math.max(length, READ_CHUNK_BYTES)));
  };

  while (position < size) {
    if (size - position < FRAME_HEADER_BYTES) {
      problem = "partial frame header";
      break;
    }
    await ensure(FRAME_HEADER_BYTES);
    const header = readFrameHeader(chunk, position - chunkStart);
    if (!header) {
      problem = "no frame magic number";
      break;
    }
    if (header.baseOffset !== offset) {
      problem = `frame base offset ${header.baseOffset} where ${offset} was expected`;
      break;
    }
    if (position + frameBytes(header) > size) {
      problem = "partial frame";
      break;
    }
    if (verify) {
      await ensure(frameBytes(header));
      if (!frameIsIntact(chunk, position - chunkStart, header)) {
        problem = "frame checksum mismatch";
        break;
      }
    }
    flushFrames.push(offset, position);
    offset += header.recordCount;
    position += frameBytes(header);
    if ((header.flags & FLAG_COMMIT) !== 0) {
      for (let i = 0; i < flushFrames.length; i += 2) index.add(flushFrames[i] ?? 0, flushFrames[i + 1] ?? 0);
      flushFrames.length = 0;
      validBytes = position;
      validOffset = offset;
    }
  }
  if (problem === undefined && validBytes < size) problem = "flush without its commit frame";
  return { validBytes, nextOffset: validOffset, index, problem };
}
