/**
 * The published package: `npm pack` output, unpacked into a fresh project,
 * (built by its `prepare` script) imports through every documented module path, type-checks, and runs a
 * workflow. (The runtime dependencies, better-sqlite3 (native) and croner, are linked in rather than installed.)
 */
import assert from "node:assert/strict"
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { after, describe, it } from "node:test"
import { fileURLToPath } from "node:url"

const root = resolve(fileURLToPath(new URL("../..", import.meta.url)))
const project = mkdtempSync(join(tmpdir(), "dt-package-"))
after(() => rmSync(project, { recursive: true, force: true }))

describe("npm package", { timeout: 120_000 }, () => {
  it("packs dist/ with every exported path, installs in a fresh project, type-checks and runs", () => {
    const packed = JSON.parse(
      execFileSync("npm", ["pack", "--json", "--pack-destination", project], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 90_000 }),
    ) as Array<{ filename: string; files: Array<{ path: string }> }>
    const files = packed[0]!.files.map((f) => f.path)
    for (const path of ["dist/index.js", "dist/index.d.ts", "dist/storage/provider.d.ts", "dist/storage/sqlite.js", "dist/storage/memory.js", "dist/testing/index.js", "dist/dashboard/index.js", "dist/dashboard/index.d.ts", "README.md", "package.json"]) {
      assert.ok(files.includes(path), `${path} is missing from the package`)
    }
    assert.ok(!files.some((f) => f.startsWith("src/") || f.startsWith("test/") || f.startsWith("build/")), "sources or tests were packed")

    const modules = join(project, "node_modules")
    mkdirSync(join(modules, "durabletasks"), { recursive: true })
    execFileSync("tar", ["-xzf", join(project, packed[0]!.filename), "-C", join(modules, "durabletasks"), "--strip-components=1"], { timeout: 30_000 })
    for (const dep of ["better-sqlite3", "croner", "@types"]) symlinkSync(join(root, "node_modules", dep), join(modules, dep))
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "fresh-app", type: "module", private: true }))
    writeFileSync(
      join(project, "app.ts"),
      `import { WorkflowRunner, ExpectedError, defineTask, type TaskExecutionResult } from "durabletasks"
import type { StorageProvider } from "durabletasks/storage/provider"
import { SQLiteStorageProvider } from "durabletasks/storage/sqlite"
import { MemoryStorageProvider } from "durabletasks/storage/memory"
import { runProviderConformance } from "durabletasks/testing"
import { createDashboard, type DashboardOptions } from "durabletasks/dashboard"
void runProviderConformance
const greet = defineTask<{ name: string }, string>()({ Name: "Greet", Execute: async (ctx) => ({ data: "hello " + ctx.data.name }) })
const storage: StorageProvider = process.argv[2] === "memory" ? new MemoryStorageProvider() : new SQLiteStorageProvider(":memory:")
const runner = new WorkflowRunner({
  taskRunners: [greet, { Name: "ExampleTask", Execute: async () => ({ data: "Task completed successfully" }) as TaskExecutionResult }],
  retryDelayMS: 5000,
  storageProvider: storage,
})
await runner.recover()
const handle = await runner.addWorkflow({ tasks: { a: { task: "Greet", data: { name: "package" } }, b: { task: "ExampleTask", data: ["Hello, World!"] } } })
const info = await handle.result()
const options: DashboardOptions = { storageProvider: storage, basePath: "/ops", authorize: () => "app" }
const dashboard = createDashboard(options)
const { createServer } = await import("node:http")
const server = createServer((req, res) => void dashboard(req, res)).listen(0, "127.0.0.1")
await new Promise((resolve) => server.once("listening", resolve))
const { port } = server.address() as { port: number }
const overview = await fetch(\`http://127.0.0.1:\${port}/ops/\`)
server.close()
await dashboard.close()
console.log(JSON.stringify(info.tasks.map((t) => t.result)), new ExpectedError("x").name, overview.status)
await runner.stop()
`,
    )
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", strict: true, skipLibCheck: false, types: ["node"] } }),
    )
    execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", project], { cwd: project, stdio: "pipe", timeout: 60_000 })
    for (const store of ["sqlite", "memory"]) {
      // A run that hangs (a workflow that never ends) is killed and fails the test.
      const out = execFileSync(process.execPath, [join(project, "app.js"), store], { cwd: project, encoding: "utf8", timeout: 20_000 })
      assert.equal(out.trim(), '["hello package","Task completed successfully"] ExpectedError 200')
    }
    // The CLI: package.json's bin names a packed file with a shebang, and it runs from the installed package.
    const installed = join(modules, "durabletasks")
    const bin = (JSON.parse(readFileSync(join(installed, "package.json"), "utf8")) as { bin: Record<string, string> }).bin.durabletasks
    assert.equal(bin, "./dist/cli.js")
    assert.match(readFileSync(join(installed, bin), "utf8"), /^#!\/usr\/bin\/env node\n/)
    const help = execFileSync(process.execPath, [join(installed, bin), "--help"], { cwd: project, encoding: "utf8" })
    assert.match(help, /^Usage: durabletasks <command>/)
  })
})
