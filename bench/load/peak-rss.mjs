// Preloaded into a process the bench measures (`node --import`): writes the process's peak resident set size, in
// KiB, to the file named by FINMESH_BENCH_RSS_FILE when it exits.
import { writeFileSync } from 'node:fs';

const file = process.env.FINMESH_BENCH_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
