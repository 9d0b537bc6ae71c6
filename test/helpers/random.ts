/** A deterministic pseudo-random sequence in [0, 1) (mulberry32), so a generated test's failure reproduces from its seed: igloo/testing's own. */
export { seeded as random } from "../../src/testing/random.ts";
