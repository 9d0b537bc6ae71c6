/** The tests drive the compiled binary through the same helpers as the demo and the benchmark. */
export * from "../../scripts/lib/igloo.ts";
