import { buildBacklog, runRecovery } from "./workloads/recovery.js"
import { tempDir } from "./stats.js"
const n = Number(process.argv[2] ?? 100000), c = Number(process.argv[3] ?? 500)
const t = tempDir()
const b = await buildBacklog(n, "random", t.dir)
console.log("build", Math.round(b.buildMS))
for (let i = 0; i < 2; i++) console.log(JSON.stringify(await runRecovery(b.file, n, c)))
t.remove()
