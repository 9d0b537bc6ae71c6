/**
 * `igloo/testing`: what a project's tests import. build.ts bundles this entry (with the
 * runtime it needs) into the binary; `.igloo/lib/testing.ts` types it by the project's
 * models and views.
 */
export { createTestPipeline, findProjectRoot, type IngestVerdict, type Row, type TestClock, type TestPipeline, type TestPipelineOptions } from "./testPipeline.ts";
export { sample, type InvalidSample, type SampleOptions } from "./sample.ts";
export { fakeContext, type FakeContext } from "./context.ts";
