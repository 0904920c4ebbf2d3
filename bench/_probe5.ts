import { buildBacklog } from "./workloads/recovery.js"
const b = await buildBacklog(Number(process.argv[2] ?? 100000), (process.argv[4] ?? "random") as "random", process.argv[3]!)
console.log(b.file)
