import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Project } from './project.js';

/**
 * A project as last loaded and validated, kept in `.finmesh/cache/project.json` and used while no file of the project
 * (finmesh.yaml, domains/, governance/, policies/) and no file of finmesh's own config code changed — as dbt's partial parsing does. Reading
 * YAML, validating it (zod, the ODCS schema) and loading those libraries is most of a command's start; a command
 * whose project did not change skips all of it. Only a valid project is cached: an invalid one is read (and its
 * problems reported) every time.
 */
export async function loadProject(dir: string, options: { target?: string | undefined } = {}): Promise<Project> {
  const root = resolve(dir);
  const target = options.target ?? process.env.FINMESH_TARGET;
  const file = join(root, '.finmesh', 'cache', `project${target ? `.${target}` : ''}.json`);
  let key: string | undefined;
  try {
    key = `target:${target ?? ''}\n${fingerprint(root)}`;
    const cached = JSON.parse(readFileSync(file, 'utf8')) as { key: string; project: Project };
    if (cached.key === key) return cached.project;
  } catch {
    // no cache yet, or unreadable: load the project
  }
  const { loadProject: load } = await import('./load-project.js');
  const project = load(dir, { target });
  if (key !== undefined) {
    try {
      mkdirSync(dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify({ key, project }));
      renameSync(tmp, file);
    } catch {
      // a read-only project: no cache, every start loads it
    }
  }
  return project;
}

const CODE_DIR = dirname(fileURLToPath(import.meta.url));

/** Path, size and modification time of every file the loaded project depends on, and of the code that loads it. */
function fingerprint(root: string): string {
  const parts: string[] = [root];
  const add = (path: string, shown: string) => {
    const s = statSync(path);
    parts.push(`${shown}:${s.size}:${s.mtimeMs}`);
  };
  add(join(root, 'finmesh.yaml'), 'finmesh.yaml');
  const tree = (name: string) => {
    const dir = join(root, name);
    const folders: string[] = [];
    for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      const path = join(e.parentPath, e.name);
      if (e.isFile()) add(path, path.slice(root.length));
      else if (e.isDirectory()) folders.push(path);
    }
    // Folders count too: a file removed changes its folder's time.
    for (const path of folders) parts.push(`${path.slice(root.length)}:${statSync(path).mtimeMs}`);
    parts.push(`${name}:${statSync(dir).mtimeMs}`);
  };
  tree('domains');
  // The access model (governance/access.yaml) and the project's own policies: a grant revoked holds at once.
  for (const name of ['governance', 'policies']) {
    if (existsSync(join(root, name))) tree(name);
    else parts.push(`${name}:absent`);
  }
  for (const name of readdirSync(CODE_DIR).sort()) add(join(CODE_DIR, name), `code/${name}`);
  return parts.join('\n');
}
