/** `*`, `?` and `**` glob to a regular expression over a path relative to the source folder. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Which listed paths under `root` a source takes: those whose path below `root`, or name, matches the glob
 * `pattern`, and whose path below `root` matches `regex` when one is set.
 */
export function fileMatcher(o: { root: string; pattern: string; regex?: string | undefined }): (path: string) => boolean {
  const glob = globToRegExp(o.pattern);
  const regex = o.regex ? new RegExp(o.regex) : undefined;
  const root = o.root.replace(/\/$/, '');
  return (path) => {
    const rel = path.slice(root.length + 1);
    const name = path.slice(path.lastIndexOf('/') + 1);
    return (glob.test(rel) || glob.test(name)) && (!regex || regex.test(rel));
  };
}
