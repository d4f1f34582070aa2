// Preloaded into a process the bench measures (`node --import`): writes the process's peak resident set size, in
// KiB, to the file named by FINMESH_BENCH_RSS_FILE when it exits.
//
// On Linux the peak is the VmHWM of /proc/self/status: the high-water mark of this process's own memory since its
// exec. getrusage's maxRSS (process.resourceUsage) is not: Linux carries the parent's peak across fork and exec into
// it, so a child of a large bench process reported the bench's size (920 MiB for a 100k-row ingest after the stream
// rows), and even alone the bench's own ~200 MiB set a floor under the small side of a ratio.
import { readFileSync, writeFileSync } from 'node:fs';

function peakKiB() {
  if (process.platform === 'linux') {
    const hwm = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]);
  }
  return process.resourceUsage().maxRSS;
}

const file = process.env.FINMESH_BENCH_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(peakKiB())));
