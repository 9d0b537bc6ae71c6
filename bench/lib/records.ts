import type { ProducerRecord } from "../../runtime/stream/stream.ts";

/** ~150 bytes of JSON, like a small event: the record the stream benchmarks append. */
export function benchRecord(id: number): ProducerRecord {
  const value = JSON.stringify({
    id,
    ts: "2025-01-01T00:00:00.000Z",
    user: `user-${id % 1000}`,
    event: "page_view",
    path: "/products/some-product-slug",
    props: { a: 1, b: "xyzxyzxyz" },
  });
  return { key: `user-${id % 1000}`, value: new TextEncoder().encode(value) };
}
