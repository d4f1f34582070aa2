import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yazl from 'yazl';
import { Random } from '../../core/random.js';

export interface SettledSale {
  transactionDate: string;
  merchantId: string;
  nsu: string;
  authCode: string;
  brand: string;
  amount: number;
  merchantName: string;
}

const pad = (s: string | number, n: number) => String(s).padEnd(n).slice(0, n);
const num = (v: number, n: number) => String(Math.round(v)).padStart(n, '0').slice(-n);
const ymd = (d: string) => d.replaceAll('-', '');

/** One acquirer EDI file (layouts/acquirer-edi.yaml) for the sales, encoded in ISO-8859-1 with CRLF line ends. */
export function acquirerEdiFile(
  sales: SettledSale[],
  fileDate: string,
  sequence: number,
  defects: { amountMismatch?: Set<number>; malformed?: Set<number>; truncate?: boolean } = {},
): Buffer {
  const lines = [`0${ymd(fileDate)}${pad('ADQUIRENTE SIMULADA', 20)}${pad('FINTECH PAGAMENTOS LTDA', 30)}${num(sequence, 7)}`.padEnd(160)];
  let total = 0;
  sales.forEach((s, i) => {
    const gross = defects.amountMismatch?.has(i) ? s.amount + 1.5 : s.amount;
    const fee = Math.round(gross * 2.39) / 100;
    const date = defects.malformed?.has(i) ? '2026X131' : ymd(fileDate);
    total += Math.round(gross * 100);
    lines.push(
      `1${date}${ymd(s.transactionDate)}${pad(s.merchantId, 15)}${pad(s.nsu, 12)}${pad(s.authCode, 6)}${pad(s.brand, 10)}${num(1, 2)}${num(gross * 100, 13)}${num(fee * 100, 11)}${num((gross - fee) * 100, 13)}${pad(s.merchantName, 40)}`.padEnd(
        160,
      ),
    );
  });
  lines.push(`9${num(sales.length, 9)}${num(total, 15)}`.padEnd(160));
  const kept = defects.truncate ? lines.slice(0, Math.max(2, Math.floor(lines.length / 2))) : lines;
  return Buffer.from(`${kept.join('\r\n')}\r\n`, 'latin1');
}

/**
 * The acquirer, simulated: drops settlement files for the card sales the app captured, with defects at known rates —
 * a duplicate file under a new name, amount mismatches, a malformed row, and a truncated file.
 */
export function dropPartnerFiles(
  dir: string,
  sales: SettledSale[],
  options: { seed: number; fileDate: string; sequence: number; late?: boolean },
): string[] {
  const r = new Random(options.seed);
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const write = (name: string, bytes: Buffer) => {
    writeFileSync(join(dir, name), bytes);
    written.push(name);
  };
  const mismatch = new Set<number>();
  for (let i = 0; i < sales.length; i++) if (r.chance(0.01)) mismatch.add(i);
  const base = `EDI_${ymd(options.fileDate)}_${String(options.sequence).padStart(3, '0')}`;
  const main = acquirerEdiFile(sales, options.fileDate, options.sequence, {
    amountMismatch: mismatch,
    malformed: new Set(sales.length > 3 ? [2] : []),
  });
  write(`${base}.txt`, main);
  if (options.late) {
    // The partner re-sends yesterday's file under a new name, and a transfer that was cut short.
    write(`${base}_REENVIO.txt`, main);
    write(
      `${base}_PARCIAL.txt`,
      acquirerEdiFile(sales.slice(0, Math.max(4, Math.floor(sales.length / 2))), options.fileDate, options.sequence + 1, {
        truncate: true,
      }),
    );
    // The transfer stopped a while ago: the file has settled, so a reader judges it truncated rather than still being
    // written (a young file without its trailer is waited for, not quarantined).
    const stoppedAt = new Date(Date.now() - 10 * 60_000);
    utimesSync(join(dir, `${base}_PARCIAL.txt`), stoppedAt, stoppedAt);
  }
  return written;
}

const CHARGEBACK_REASONS: [string, string][] = [
  ['4837', 'Fraude; transação não reconhecida'],
  ['4853', 'Mercadoria não recebida'],
  ['4834', 'Duplicidade'],
  ['4855', 'Produto "diferente" do anunciado'],
];

/** Header of the acquirer's chargeback report, in Portuguese as partners send it. */
export const CHARGEBACK_HEADER = [
  'ID Disputa',
  'Data Abertura',
  'Data Venda',
  'NSU',
  'Cód. Autorização',
  'Estabelecimento',
  'Nome Fantasia',
  'Bandeira',
  'Valor Contestado',
  'Cód. Motivo',
  'Motivo',
  'Situação',
];

const brDate = (d: string) => `${d.slice(8, 10)}/${d.slice(5, 7)}/${d.slice(0, 4)}`;
const brAmount = (v: number) => {
  const [int, dec] = v.toFixed(2).split('.') as [string, string];
  return `${int.replace(/\B(?=(\d{3})+(?!\d))/g, '.')},${dec}`;
};
const csvField = (s: string) => (/[;"\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);

/**
 * The acquirer's daily chargeback report: CSV with `;`, decimal commas, dd/MM/yyyy dates and a Portuguese header,
 * in ISO-8859-1 with CRLF. About 1 % of the card sales are disputed (at least two when there are sales); one row
 * carries an impossible date, so a run shows a rejected row with its line.
 */
export function chargebackReport(sales: SettledSale[], o: { seed: number; fileDate: string }): { csv: Buffer; rows: number } {
  const r = new Random(o.seed + 7);
  const disputed = sales.filter((_, i) => r.chance(0.01) || i === 1 || i === 4).slice(0, Math.max(2, Math.ceil(sales.length / 50)));
  const lines = [CHARGEBACK_HEADER.join(';')];
  disputed.forEach((s, i) => {
    const [code, reason] = CHARGEBACK_REASONS[i % CHARGEBACK_REASONS.length] as [string, string];
    const opened = i === 1 && disputed.length > 2 ? '31/02/2026' : brDate(o.fileDate);
    lines.push(
      [
        `CB${ymd(o.fileDate)}${String(i + 1).padStart(5, '0')}`,
        opened,
        brDate(s.transactionDate),
        s.nsu,
        s.authCode,
        s.merchantId,
        s.merchantName,
        s.brand,
        brAmount(s.amount),
        code,
        reason,
        i % 3 === 0 ? 'Aberta' : 'Em análise',
      ]
        .map(csvField)
        .join(';'),
    );
  });
  return { csv: Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1'), rows: disputed.length };
}

/** A zip of these files (names ending in `/` are folders), as partners pack their reports. */
export function zipFiles(entries: [string, Buffer][]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, data] of entries) {
    if (name.endsWith('/')) zip.addEmptyDirectory(name);
    else zip.addBuffer(data, name);
  }
  zip.end();
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
}

/** A file in one zip entry, as the acquirer packs its reports. */
export const zipOne = (name: string, data: Buffer) => zipFiles([[name, data]]);

/** Encrypts to the fintech's public key and signs with the acquirer's private key, as `gpg --sign --encrypt` does. */
export async function sealForFintech(data: Buffer, keys: { fintechPublicKey: string; signingKey: string }): Promise<Buffer> {
  const openpgp = await import('openpgp');
  const message = await openpgp.createMessage({ binary: data });
  const encrypted = await openpgp.encrypt({
    message,
    encryptionKeys: await openpgp.readKey({ armoredKey: keys.fintechPublicKey }),
    signingKeys: await openpgp.readPrivateKey({ armoredKey: keys.signingKey }),
    format: 'binary',
  });
  return Buffer.from(encrypted as Uint8Array);
}

/** A fresh OpenPGP key pair (Curve25519), armored; the private key protected when a passphrase is given. */
export async function generatePgpKeys(
  name: string,
  email: string,
  passphrase?: string,
): Promise<{ privateKey: string; publicKey: string }> {
  const openpgp = await import('openpgp');
  const k = await openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ name, email }],
    ...(passphrase ? { passphrase } : {}),
    format: 'armored',
  });
  return { privateKey: k.privateKey, publicKey: k.publicKey };
}
