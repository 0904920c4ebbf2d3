/** Small real file systems for tests of full and read-only disks (the tests run as root). */
import { execFileSync } from "node:child_process"

/** Mounts a tmpfs of `size` (e.g. `"2m"`) on `dir`; false where this sandbox does not allow it. */
export function mountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "pipe" })
    return true
  } catch {
    return false
  }
}

/** Unmounts `dir`, lazily if something still holds it open. */
export function unmount(dir: string): void {
  try {
    execFileSync("umount", [dir], { stdio: "pipe" })
  } catch {
    execFileSync("umount", ["-l", dir], { stdio: "pipe" })
  }
}
