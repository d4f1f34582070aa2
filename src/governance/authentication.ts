import { createHash, timingSafeEqual } from 'node:crypto';
import { ACCESS_FILE } from '../config/access-names.js';
import type { AccessModel, ApiToken, OidcSettings } from '../config/access-schema.js';
import { resolveSecret } from '../config/secrets.js';
import { type Clock, systemClock } from '../core/clock.js';
import { FinmeshError } from '../core/errors.js';

/** Who a credential proves to be: the persona it acts as, and its name for the audit log. */
export interface Identity {
  persona: string;
  /** `token:<name>` or `oidc:<subject>`. */
  principal: string;
}

interface KnownToken {
  token: ApiToken;
  sha256: Buffer;
}

/**
 * Turns a credential (an HTTP bearer token, or the password of the SQL endpoint) into an identity, or refuses it with
 * `UNAUTHENTICATED`. Two kinds: API tokens of the access model — only their SHA-256 is kept, compared in constant
 * time; bound to a persona, expiring, revocable — and, when `oidc` is set, JWTs of the identity provider, verified
 * against its key set (issuer, audience, expiry) and mapped to a persona by a claim. Never logs or echoes a credential.
 */
export class Authenticator {
  private constructor(
    private readonly tokens: KnownToken[],
    private readonly oidc: OidcVerifier | undefined,
    private readonly clock: Clock,
  ) {}

  /**
   * Builds the authenticator of an access model. A token whose secret reference does not resolve (its variable is
   * not set here) is left out and reported through `onSkip`, so one missing secret does not stop the others.
   */
  static async create(
    model: AccessModel,
    projectRoot: string,
    options: { clock?: Clock | undefined; onSkip?: ((token: string, reason: string) => void) | undefined } = {},
  ): Promise<Authenticator> {
    const known: KnownToken[] = [];
    for (const token of model.tokens) {
      let hash: Buffer;
      if (token.sha256) hash = Buffer.from(token.sha256, 'hex');
      else {
        try {
          hash = sha256(resolveSecret(token.secret as string, projectRoot, `${ACCESS_FILE}: token ${token.name}`));
        } catch (e) {
          options.onSkip?.(token.name, (e as Error).message);
          continue;
        }
      }
      known.push({ token, sha256: hash });
    }
    const oidc = model.oidc ? await OidcVerifier.create(model.oidc) : undefined;
    return new Authenticator(known, oidc, options.clock ?? systemClock);
  }

  /** The identity a credential proves. `UNAUTHENTICATED` when it is missing, unknown, expired, revoked or invalid. */
  async authenticate(credential: string | undefined): Promise<Identity> {
    if (!credential) throw new FinmeshError('UNAUTHENTICATED', 'a token is required (Authorization: Bearer <token>)');
    if (this.oidc && /^[\w-]+\.[\w-]+\.[\w-]+$/.test(credential)) return this.oidc.verify(credential);
    const hash = sha256(credential);
    const match = this.tokens.find((t) => timingSafeEqual(t.sha256, hash));
    if (!match) throw new FinmeshError('UNAUTHENTICATED', 'unknown token');
    const { token } = match;
    if (token.revoked) throw new FinmeshError('UNAUTHENTICATED', `token ${token.name} was revoked`);
    if (this.clock.now() >= expiry(token.expires))
      throw new FinmeshError('UNAUTHENTICATED', `token ${token.name} expired on ${token.expires}`);
    return { persona: token.persona, principal: `token:${token.name}` };
  }
}

/** A token's SHA-256, what the access model may hold instead of a secret reference. */
export function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** A day (`2027-12-31`) expires at its end, UTC; an instant at itself. */
function expiry(when: string): number {
  return /^\d{4}-\d{2}-\d{2}$/.test(when) ? Date.parse(`${when}T00:00:00Z`) + 86_400_000 : Date.parse(when);
}

/** OIDC bearer tokens, verified with `jose` against the issuer's JWKS (fetched and cached by jose). */
class OidcVerifier {
  private constructor(
    private readonly settings: OidcSettings,
    private readonly jose: typeof import('jose'),
    private readonly keys: ReturnType<typeof import('jose')['createRemoteJWKSet']>,
  ) {}

  static async create(settings: OidcSettings): Promise<OidcVerifier> {
    const jose = await import('jose');
    const jwksUri = settings.jwksUri ?? (await discoverJwks(settings.issuer));
    return new OidcVerifier(settings, jose, jose.createRemoteJWKSet(new URL(jwksUri)));
  }

  async verify(jwt: string): Promise<Identity> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await this.jose.jwtVerify(jwt, this.keys, { issuer: this.settings.issuer, audience: this.settings.audience }));
    } catch (e) {
      // jose's messages name the failed check (signature, exp, iss, aud), never the token.
      throw new FinmeshError('UNAUTHENTICATED', `invalid OIDC token: ${(e as Error).message}`);
    }
    const raw = payload[this.settings.claim];
    const values = Array.isArray(raw) ? raw.map(String) : raw === undefined ? [] : [String(raw)];
    const persona = values.map((v) => this.settings.personas[v]).find((p) => p !== undefined);
    const subject = String(payload[this.settings.subjectClaim] ?? payload.sub ?? 'unknown');
    if (!persona) {
      throw new FinmeshError(
        'PERMISSION',
        `OIDC subject ${subject}: no value of its ${this.settings.claim} claim maps to a persona (${ACCESS_FILE}: oidc.personas)`,
      );
    }
    return { persona, principal: `oidc:${subject}` };
  }
}

async function discoverJwks(issuer: string): Promise<string> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const doc = (await res.json()) as { jwks_uri?: string };
    if (!doc.jwks_uri) throw new Error('no jwks_uri in it');
    return doc.jwks_uri;
  } catch (cause) {
    throw new FinmeshError('UNAVAILABLE', `cannot read the OIDC discovery document ${url}: ${(cause as Error).message}`, { cause });
  }
}
