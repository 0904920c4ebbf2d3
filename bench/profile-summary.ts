/**
 * Prints the functions with the most self time in a V8 CPU profile
 * (`node --cpu-prof` writes them): `node build/bench/profile-summary.js FILE.cpuprofile [top]`.
 */
import fs from "node:fs"
import path from "node:path"

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** Self time in ms per function (name + file:line), largest first. */
export function selfTimes(profile: Profile): Array<{ name: string; ms: number; share: number }> {
  const byID = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<string, number>()
  let total = 0
  profile.samples.forEach((id, i) => {
    const node = byID.get(id)
    const delta = (profile.timeDeltas[i] ?? 0) / 1000
    total += delta
    if (!node) return
    const f = node.callFrame
    const where = f.url ? `${path.basename(f.url)}:${f.lineNumber + 1}` : ""
    const key = `${f.functionName || "(anonymous)"} ${where}`.trim()
    self.set(key, (self.get(key) ?? 0) + delta)
  })
  return [...self.entries()]
    .map(([name, ms]) => ({ name, ms, share: ms / total }))
    .sort((a, b) => b.ms - a.ms)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2]
  if (!file) {
    console.error("usage: node build/bench/profile-summary.js FILE.cpuprofile [top]")
    process.exit(2)
  }
  const top = Number(process.argv[3] ?? 25)
  const rows = selfTimes(JSON.parse(fs.readFileSync(file, "utf8")) as Profile)
  for (const r of rows.slice(0, top)) console.log(`${r.ms.toFixed(1).padStart(9)} ms ${(r.share * 100).toFixed(1).padStart(5)}%  ${r.name}`)
}
