/**
 * The metrics a running project exposes at `/metrics`: counters fed by ingest, the table
 * writers and the functions, consumer lag per topic and group, sampled from the stream
 * at each scrape, and with several ClickHouse replicas which of them are up.
 */
import type { FunctionHost } from "../runtime/functions/functionHost.ts";
import type { LiveMetrics } from "../runtime/live/subscriptions.ts";
import { iglooMetrics, Metrics, type IglooMetrics } from "../runtime/observability/metrics.ts";
import type { Pipeline } from "../runtime/pipeline/pipeline.ts";
import type { Stream } from "../runtime/stream/stream.ts";
import type { Store } from "../runtime/store/store.ts";
import { writerGroup } from "../runtime/writer/tableWriter.ts";

export interface Observability {
  readonly handles: IglooMetrics;
  readonly live: LiveMetrics;
  render(): Promise<string>;
  /** Starts sampling lag from these once they exist. */
  watch(pipeline: Pipeline, functions: FunctionHost): void;
}

export function createObservability(stream: Stream, store?: Pick<Store, "health">): Observability {
  const registry = new Metrics();
  const handles = iglooMetrics(registry);
  if (store?.health) {
    const up = registry.gauge("igloo_clickhouse_replica_up", "1 for a ClickHouse replica that answers, 0 for one that does not (several replicas in IGLOO_CLICKHOUSE_URL).", ["replica"]);
    const current = registry.gauge("igloo_clickhouse_replica_current", "1 for the replica Igloo's writes and reads go to now.", ["replica"]);
    registry.onCollect(async () => {
      for (const h of store.health!()) {
        up.set({ replica: h.replica }, h.up ? 1 : 0);
        current.set({ replica: h.replica }, h.current ? 1 : 0);
      }
    });
  }
  const live: LiveMetrics = {
    pushDelay: registry.histogram(
      "igloo_live_push_delay_seconds",
      "From a change reaching a view's tables being seen to its subscribers being sent the new rows, in seconds.",
      [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2.5, 5, 10],
    ),
    reads: registry.counter("igloo_live_reads_total", "Queries run for live subscriptions: at most one per distinct view and parameters per change, and one for all the stale parameter values of a view read together."),
    subscribers: registry.gauge("igloo_live_subscribers", "Open live subscriptions."),
    feeds: registry.gauge("igloo_live_feeds", "Distinct views with parameters that live subscriptions follow."),
  };
  return {
    handles,
    live,
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
