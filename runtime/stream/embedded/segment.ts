import { checkValue } from "../checks.ts";
import type { ProducerRecord, StreamRecord } from "../stream.ts";

/**
 * The on-disk frame format of a segment file.
 *
 * A segment is a run of frames. A frame holds consecutive records:
 *
 *   header (28 bytes, little endian)
 *     u32 magic          FRAME_MAGIC, so garbage is told apart from a frame
 *     u32 payloadLength  bytes after the header
 *     u32 recordCount    at least 1
 *     u32 flags          FLAG_COMMIT on the last frame of a flush
 *     u64 baseOffset     offset of the first record (dense: previous frame's end)
 *     u32 crc32          CRC32 of header bytes [0, 24) then the payload
 *   payload: per record
 *     u32 valueLength, u32 keyLength + 1 (0: no key), key (UTF-8), value
 *
 * A flush (group commit) writes its records as frames of about FRAME_TARGET_BYTES so the
 * sparse index, which points at frame starts, has an entry at least every ~64 KiB; only
 * the flush's last frame carries FLAG_COMMIT. Recovery truncates back to the end of the
 * last commit frame, so a flush torn by a crash disappears as a whole and an append is
 * never half stored. The CRC covers the header fields too, so a flipped offset, count or
 * flag is caught like a flipped payload byte.
 */

export const FRAME_MAGIC = 0x49474c46; // "IGLF" read as little endian bytes F L G I
export const FRAME_HEADER_BYTES = 28;
export const FLAG_COMMIT = 1;
/** A frame is closed once its payload reaches this; the index interval follows from it. */
export const FRAME_TARGET_BYTES = 32 * 1024;
const RECORD_HEADER_BYTES = 8;
const TWO_32 = 2 ** 32;

export interface FrameHeader {
  readonly payloadLength: number;
  readonly recordCount: number;
  readonly flags: number;
  readonly baseOffset: number;
  readonly crc: number;
}

/** Where each frame of an encoded flush starts, for the sparse index. */
export interface EncodedFlush {
  readonly bytes: Uint8Array;
  readonly recordCount: number;
  readonly frameOffsets: readonly number[];
  readonly framePositions: readonly number[];
}

/**
 * Bytes a record takes in a payload. Throws when the value holds a newline: the table
 * writer joins values with newlines, so such a value would split into two rows.
 */
export function encodedRecordBytes(record: ProducerRecord): number {
  const { key, value } = record;
  checkValue(value);
  let bytes = RECORD_HEADER_BYTES + (typeof value === "string" ? Buffer.byteLength(value, "utf8") : value.byteLength);
  if (key !== undefined) bytes += Buffer.byteLength(key, "utf8");
  return bytes;
}

/**
 * Encodes the records of several appends, in order, as the frames of one flush.
 * `payloadBytes` is the sum of `encodedRecordBytes` over all records.
 */
export function encodeFlush(
  appends: readonly (readonly ProducerRecord[])[],
  payloadBytes: number,
  baseOffset: number,
): EncodedFlush {
  // Every frame but the last has a payload of at least FRAME_TARGET_BYTES, which bounds
  // the frame count and so the buffer.
  const maxFrames = Math.floor(payloadBytes / FRAME_TARGET_BYTES) + 1;
  const buffer = Buffer.allocUnsafe(payloadBytes + maxFrames * FRAME_HEADER_BYTES);
  const frameOffsets: number[] = [];
  const framePositions: number[] = [];
  let frameStart = 0;
  let frameRecords = 0;
  let position = FRAME_HEADER_BYTES;
  let offset = baseOffset;

  for (const records of appends) {
    for (const record of records) {
      if (position - frameStart - FRAME_HEADER_BYTES >= FRAME_TARGET_BYTES) {
        writeHeader(buffer, frameStart, position, frameRecords, 0, offset - frameRecords);
        frameOffsets.push(offset - frameRecords);
        framePositions.push(frameStart);
        frameStart = position;
        frameRecords = 0;
        position += FRAME_HEADER_BYTES;
      }
      const recordStart = position;
      position += RECORD_HEADER_BYTES;
      let keyField = 0;
      if (record.key !== undefined) {
        const keyLength = buffer.write(record.key, position, "utf8");
        position += keyLength;
        keyField = keyLength + 1;
      }
      const value = record.value;
      let valueLength: number;
      if (typeof value === "string") {
        valueLength = buffer.write(value, position, "utf8");
      } else {
        buffer.set(value, position);
        valueLength = value.byteLength;
      }
      position += valueLength;
      buffer.writeUInt32LE(valueLength, recordStart);
      buffer.writeUInt32LE(keyField, recordStart + 4);
      frameRecords++;
      offset++;
    }
  }
  if (frameRecords > 0) {
    writeHeader(buffer, frameStart, position, frameRecords, FLAG_COMMIT, offset - frameRecords);
    frameOffsets.push(offset - frameRecords);
    framePositions.push(frameStart);
  } else {
    position = frameStart;
  }
  return {
    bytes: buffer.subarray(0, position),
    recordCount: offset - baseOffset,
    frameOffsets,
    framePositions,
  };
}

function writeHeader(
  buffer: Buffer,
  start: number,
  end: number,
  recordCount: number,
  flags: number,
  baseOffset: number,
): void {
  buffer.writeUInt32LE(FRAME_MAGIC, start);
  buffer.writeUInt32LE(end - start - FRAME_HEADER_BYTES, start + 4);
  buffer.writeUInt32LE(recordCount, start + 8);
  buffer.writeUInt32LE(flags, start + 12);
  buffer.writeUInt32LE(baseOffset % TWO_32, start + 16);
  buffer.writeUInt32LE(Math.floor(baseOffset / TWO_32), start + 20);
  buffer.writeUInt32LE(frameCrc(buffer, start, end), start + 24);
}

function frameCrc(buffer: Uint8Array, start: number, end: number): number {
  const headerCrc = Bun.hash.crc32(buffer.subarray(start, start + 24));
  return Bun.hash.crc32(buffer.subarray(start + FRAME_HEADER_BYTES, end), headerCrc);
}

/** The header at `at`, or undefined when the magic number is not there. */
export function readFrameHeader(buffer: Buffer, at: number): FrameHeader | undefined {
  if (buffer.readUInt32LE(at) !== FRAME_MAGIC) return undefined;
  return {
    payloadLength: buffer.readUInt32LE(at + 4),
    recordCount: buffer.readUInt32LE(at + 8),
    flags: buffer.readUInt32LE(at + 12),
    baseOffset: buffer.readUInt32LE(at + 20) * TWO_32 + buffer.readUInt32LE(at + 16),
    crc: buffer.readUInt32LE(at + 24),
  };
}

/** The frame at `at` (wholly inside `buffer`) matches its CRC and its record layout. */
export function frameIsIntact(buffer: Buffer, at: number, header: FrameHeader): boolean {
  const end = at + FRAME_HEADER_BYTES + header.payloadLength;
  if (header.recordCount === 0 || frameCrc(buffer, at, end) !== header.crc) return false;
  let position = at + FRAME_HEADER_BYTES;
  for (let i = 0; i < header.recordCount; i++) {
    if (position + RECORD_HEADER_BYTES > end) return false;
    const valueLength = buffer.readUInt32LE(position);
    const keyField = buffer.readUInt32LE(position + 4);
    position += RECORD_HEADER_BYTES + valueLength + (keyField === 0 ? 0 : keyField - 1);
  }
  return position === end;
}

/**
 * Appends the records of an intact frame with offset >= `minOffset` to `out`. Values are
 * subarrays of `buffer`, not copies.
 */
function decodeFrame(
  buffer: Buffer,
  at: number,
  header: FrameHeader,
  minOffset: number,
  out: StreamRecord[],
): void {
  let position = at + FRAME_HEADER_BYTES;
  let offset = header.baseOffset;
  for (let i = 0; i < header.recordCount; i++, offset++) {
    const valueLength = buffer.readUInt32LE(position);
    const keyField = buffer.readUInt32LE(position + 4);
    position += RECORD_HEADER_BYTES;
    let key: string | undefined;
    if (keyField !== 0) {
      key = buffer.toString("utf8", position, position + keyField - 1);
      position += keyField - 1;
    }
    if (offset >= minOffset) {
      out.push({ offset, key, value: buffer.subarray(position, position + valueLength) });
    }
    position += valueLength;
  }
}

/**
 * Decodes the whole frames at the start of `buffer` (the first starting at `offset`) into
 * `out`, skipping records before `minOffset`; stops at a frame cut off by the buffer's
 * end. `problem` is set when a frame is corrupt; `bytes` then says where.
 */
export function decodeFrames(
  buffer: Buffer,
  offset: number,
  minOffset: number,
  out: StreamRecord[],
): { bytes: number; nextOffset: number; problem: string | undefined } {
  let at = 0;
  let nextOffset = offset;
  while (at + FRAME_HEADER_BYTES <= buffer.length) {
    const header = readFrameHeader(buffer, at);
    if (!header) return { bytes: at, nextOffset, problem: "no frame magic number" };
    if (header.baseOffset !== nextOffset) {
      return { bytes: at, nextOffset, problem: `frame base offset ${header.baseOffset} where ${nextOffset} was expected` };
    }
    if (at + frameBytes(header) > buffer.length) break;
    if (!frameIsIntact(buffer, at, header)) return { bytes: at, nextOffset, problem: "frame checksum mismatch" };
    decodeFrame(buffer, at, header, minOffset, out);
    at += frameBytes(header);
    nextOffset += header.recordCount;
  }
  return { bytes: at, nextOffset, problem: undefined };
}

export function frameBytes(header: FrameHeader): number {
  return FRAME_HEADER_BYTES + header.payloadLength;
}
