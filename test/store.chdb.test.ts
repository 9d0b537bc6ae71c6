import { storeConformance } from "./conformance/store.ts";
import { sharedChdbStore } from "./helpers/chdb.ts";

storeConformance("chDB (embedded)", async () => ({ store: await sharedChdbStore(), cleanup: async () => {} }));
