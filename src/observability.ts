/**
 * The metrics a running project exposes at `/metrics`: counters fed by ingest, the table
 * writers and the functions, and consumer lag per topic and group, sampled from the
 * stream at each scrape.
 */
import type { FunctionHost } from "../runtime/functions/functionHost.ts";
import { iglooMetrics, Metrics, type IglooMetrics } from "../runtime/observability/metrics.ts";
import type { Pipeline } from "../runtime/pipeline/pipeline.ts";
import type { Stream } from "../runtime/stream/stream.ts";
import { writerGroup } from "../runtime/writer/tableWriter.ts";

export interface Observability {
  readonly handles: IglooMetrics;
  render(): Promise<string>;
  /** Starts sampling lag from these once they exist. */
  watch(pipeline: Pipeline, functions: FunctionHost): void;
}

export function createObservability(stream: Stream): Observability {
  const registry = new Metrics();
  const handles = iglooMetrics(registry);
  return {
    handles,
    render: () => registry.render(),
    watch(pipeline, functions) {
      registry.onCollect(async () => {
        const groups = [...pipeline.models().filter((m) => !m.streamOnly).map((m) => ({ topic: m.name, group: writerGroup(m.name) })), ...functions.groups()];
        for (const { topic, group } of groups) {
          const [ends, committed] = await Promise.all([stream.endOffsets(topic), stream.committed(topic, group)]);
          let lag = 0;
          for (const [partition, end] of ends) lag += Math.max(0, end - (committed.get(partition)?.offset ?? 0));
          handles.consumerLag.set({ topic, group }, lag);
        }
      });
    },
  };
}
