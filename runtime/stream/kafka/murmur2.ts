/**
 * Kafka's default partitioner hash (murmur2 over the key's bytes, as the Java client and
 * kafkajs compute it), so that a keyed record lands in the partition any Kafka client
 * would choose for its key.
 */
const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const encoder = new TextEncoder();

export function murmur2(key: string | Uint8Array): number {
  const data = typeof key === "string" ? encoder.encode(key) : key;
  const length = data.length;
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & 3;
  if (tail >= 3) h ^= data[whole + 2]! << 16;
  if (tail >= 2) h ^= data[whole + 1]! << 8;
  if (tail >= 1) {
    h ^= data[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's way to a non-negative number: drops the sign bit (not the absolute value). */
export function toPositive(x: number): number {
  return x & 0x7fffffff;
}
