import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after } from "node:test"
import { MemoryStorageProvider } from "../src/storage/memory.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import { runProviderConformance } from "../src/testing/index.js"
import { CoreOnlyProvider } from "./fixtures/core-only-provider.js"

const dir = mkdtempSync(join(tmpdir(), "dt-conformance-"))
const file = join(dir, "store.sqlite")
after(() => rmSync(dir, { recursive: true, force: true }))

runProviderConformance("SQLite file", () => new SQLiteStorageProvider(file))
runProviderConformance("SQLite file, table prefix", () => new SQLiteStorageProvider(file, { tablePrefix: "other_app_" }))
runProviderConformance("SQLite file, synchronous NORMAL", () => new SQLiteStorageProvider(join(dir, "normal.sqlite"), { synchronous: "NORMAL" }))
runProviderConformance("SQLite :memory:", () => new SQLiteStorageProvider(":memory:"), { sharedStore: false })
runProviderConformance("memory", () => new MemoryStorageProvider(), { sharedStore: false })

// A provider claiming the core contract alone passes, skipping the parts of the capabilities it does not declare.
runProviderConformance("core only (no optional methods or counters)", () => new CoreOnlyProvider(), { sharedStore: false })
