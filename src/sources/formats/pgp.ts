import { createReadStream, createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { FinmeshError } from '../../core/errors.js';

export interface PgpKeys {
  /** Our private key (armored), which the partner encrypts to. */
  privateKey: string;
  passphrase?: string | undefined;
  /** The partner's public key (armored): when given, a message must carry a valid signature by it. */
  verificationKey?: string | undefined;
}

export interface PgpResult {
  /** Key id of the verified signer, when a signature was required. */
  signedBy?: string;
}

/**
 * Decrypts an OpenPGP message (binary or armored, as `gpg --encrypt [--sign]` writes it) from `input` into
 * `output`, streaming. When a verification key is set the message must be signed by it: an unsigned message or a
 * bad signature is an error naming the file. openpgp.js is loaded only when a source uses PGP.
 */
export async function decryptPgpFile(input: string, output: string, keys: PgpKeys, name: string, armored: boolean): Promise<PgpResult> {
  const openpgp = await import('openpgp');
  let decryptionKey: Awaited<ReturnType<typeof openpgp.readPrivateKey>>;
  let verificationKeys: Awaited<ReturnType<typeof openpgp.readKey>>[] | undefined;
  try {
    decryptionKey = await openpgp.readPrivateKey({ armoredKey: keys.privateKey });
    if (!decryptionKey.isDecrypted()) {
      if (!keys.passphrase) throw new Error('the private key is protected and no passphrase is configured');
      decryptionKey = await openpgp.decryptKey({ privateKey: decryptionKey, passphrase: keys.passphrase });
    }
    verificationKeys = keys.verificationKey ? [await openpgp.readKey({ armoredKey: keys.verificationKey })] : undefined;
  } catch (cause) {
    throw new FinmeshError('CONFIG_INVALID', `PGP keys for ${name}: ${(cause as Error).message}`, { cause });
  }
  try {
    const stream = Readable.toWeb(createReadStream(input, armored ? { encoding: 'utf8' } : {})) as unknown;
    const message = armored
      ? await openpgp.readMessage({ armoredMessage: stream as WebReadableStream<string> as never })
      : await openpgp.readMessage({ binaryMessage: stream as WebReadableStream<Uint8Array> as never });
    const { data, signatures } = await openpgp.decrypt({
      message,
      decryptionKeys: decryptionKey,
      ...(verificationKeys ? { verificationKeys, expectSigned: true } : {}),
      format: 'binary',
    });
    await pipeline(Readable.fromWeb(data as unknown as WebReadableStream<Uint8Array>), createWriteStream(output));
    if (!verificationKeys) return {};
    const first = signatures[0];
    if (!first) throw new Error('the message is not signed');
    await first.verified;
    return { signedBy: first.keyID.toHex().toUpperCase() };
  } catch (cause) {
    const text = (cause as Error).message;
    const what = /\bsign/i.test(text) ? 'signature check failed' : 'cannot decrypt';
    throw new FinmeshError('DATA_INVALID', `${name}: PGP ${what}: ${text}`, { cause });
  }
}
