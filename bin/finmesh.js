#!/usr/bin/env node
// finmesh ships its TypeScript sources; tsx compiles them on load, so `npm ci && npx finmesh` needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
