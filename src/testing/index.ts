/**
 * `igloo/testing`: what a project's tests import. build.ts bundles this entry (with the
 * runtime it needs) into the binary; `.igloo/lib/testing.ts` types it by the project's
 * models and views, with the plain types of packages/testing/api.ts.
 */
export type * from "../../packages/testing/api.ts";
export { fakeContext } from "./context.ts";
export { sample } from "./sample.ts";
export { createTestPipeline, findProjectRoot, type Row, type TestPipeline } from "./testPipeline.ts";
