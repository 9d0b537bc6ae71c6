/**
 * The dashboard elements' module (packages/components), bundled by build.ts into one
 * minified ES module, which the binary embeds: served at `GET /_igloo/components.js` and
 * written into each generated client as `components.js`.
 */
import { bundledText } from "../assets.ts";

/** Where build.ts puts the bundle, and the binary's asset folder of the same name. */
export const COMPONENTS_BUNDLE = "build/components-bundle";
export const COMPONENTS_FILE = "components.js";

export const componentsModule: () => string = bundledText(COMPONENTS_BUNDLE, COMPONENTS_FILE, "the dashboard elements' module");
