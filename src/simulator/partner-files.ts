import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Random } from '../core/random.js';

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
  }
  return written;
}
