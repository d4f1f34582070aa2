import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ACCESS_FILE, type ApiPermission } from '../config/access-names.js';
import { loadProject } from '../config/load-project.js';
import type { Project } from '../config/project.js';
import { FinmeshError } from '../core/errors.js';
import { createEngine } from '../engine/registry.js';
import { Authenticator } from '../governance/authentication.js';
import { Enforcer, type Principal } from '../governance/enforcement.js';
import type { Context } from '../jobs/context.js';
import type { Caller, ServerAuth } from './server.js';

/** How often a request may look whether governance/access.yaml changed. */
export const DEFAULT_RELOAD_CHECK_MS = 1000;

interface State {
  project: Project;
  enforcer: Enforcer;
  auth: Authenticator;
  stamp: string;
}

/**
 * The access model as a serving process holds it: the authenticator and the enforcement point, reloaded when
 * `governance/access.yaml` changes on disk (a revoked token or a removed grant takes effect on the next request, and
 * the change is audited). A file that no longer validates keeps the previous model in force, and says why in the log.
 */
export class ServedGovernance implements ServerAuth {
  private lastCheck = 0;
  private reloading: Promise<void> | undefined;

  private constructor(
    private state: State,
    private readonly ctx: Context,
    private readonly log: Logger,
  ) {}

  static async open(ctx: Context, log: Logger): Promise<ServedGovernance> {
    return new ServedGovernance(await load(ctx, ctx.project, log), ctx, log);
  }

  get publicMetrics(): boolean {
    return this.state.project.access?.server.publicMetrics ?? false;
  }

  get project(): Project {
    return this.state.project;
  }

  /** The enforcement point in force. */
  async enforcer(): Promise<Enforcer> {
    await this.maybeReload();
    return this.state.enforcer;
  }

  async authenticate(token: string | undefined): Promise<Caller> {
    await this.maybeReload();
    try {
      const identity = await this.state.auth.authenticate(token);
      this.state.enforcer.policy.persona(identity.persona);
      return identity;
    } catch (e) {
      if (e instanceof FinmeshError && token) {
        await this.state.enforcer.audit.append({
          kind: 'auth',
          actor: 'anonymous',
          principal: undefined,
          action: 'authenticate',
          resource: 'finmesh',
          outcome: 'deny',
          details: { reason: e.message },
        });
      }
      throw e;
    }
  }

  async authorize(caller: Caller, permission: string | readonly string[], route: string): Promise<void> {
    await this.state.enforcer.authorize(principal(caller, 'http'), permission as ApiPermission | readonly ApiPermission[], route);
  }

  async close(): Promise<void> {
    await this.reloading;
    await this.state.enforcer.close();
  }

  private async maybeReload(): Promise<void> {
    const now = this.ctx.clock.now();
    if (this.reloading) return this.reloading;
    if (now - this.lastCheck < DEFAULT_RELOAD_CHECK_MS) return;
    this.lastCheck = now;
    if (stampOf(this.state.project.root) === this.state.stamp) return;
    this.reloading = (async () => {
      try {
        const project = loadProject(this.state.project.root);
        const next = await load(this.ctx, project, this.log);
        const old = this.state;
        this.state = next;
        this.log.info({ file: ACCESS_FILE }, 'access model reloaded');
        await old.enforcer.close();
      } catch (e) {
        // Keep the model in force; try again once the file changes again.
        this.state.stamp = stampOf(this.state.project.root);
        this.log.error(
          { err_message: e instanceof Error ? e.message : String(e) },
          `${ACCESS_FILE} changed but does not load: the previous access model stays in force`,
        );
      } finally {
        this.reloading = undefined;
      }
    })();
    return this.reloading;
  }
}

export function principal(caller: Caller, via: Principal['via']): Principal {
  return { persona: caller.persona, principal: caller.principal, via };
}

async function load(ctx: Context, project: Project, log: Logger): Promise<State> {
  if (!project.access)
    throw new FinmeshError(
      'CONFIG_INVALID',
      `the project has no ${ACCESS_FILE}: finmesh serve needs personas and tokens (docs/governance.md)`,
    );
  const stamp = stampOf(project.root);
  const auth = await Authenticator.create(project.access, project.root, {
    clock: ctx.clock,
    onSkip: (token, reason) => log.warn({ token }, `token ${token} is not usable: ${reason}`),
  });
  const enforcer = await Enforcer.open(ctx, () => createEngine(project.config.engine), project);
  return { project, enforcer, auth, stamp };
}

function stampOf(root: string): string {
  try {
    const s = statSync(join(root, ACCESS_FILE));
    return `${s.mtimeMs}:${s.size}`;
  } catch {
    return 'absent';
  }
}
