import type { Random } from '../../core/random.js';

/** A CPF with valid check digits (11 digits, no punctuation). */
export function generateCpf(rng: Random): string {
  let base: number[];
  do base = Array.from({ length: 9 }, () => rng.int(0, 9));
  while (base.every((d) => d === base[0]));
  const d1 = cpfDigit(base, 10);
  const d2 = cpfDigit([...base, d1], 11);
  return [...base, d1, d2].join('');
}

function cpfDigit(digits: number[], weightStart: number): number {
  const sum = digits.reduce((s, d, i) => s + d * (weightStart - i), 0);
  const r = (sum * 10) % 11;
  return r === 10 ? 0 : r;
}

export function isValidCpf(cpf: string): boolean {
  if (!/^\d{11}$/.test(cpf) || /^(\d)\1{10}$/.test(cpf)) return false;
  const d = [...cpf].map(Number);
  return cpfDigit(d.slice(0, 9), 10) === d[9] && cpfDigit(d.slice(0, 10), 11) === d[10];
}

const CNPJ_W1 = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
const CNPJ_W2 = [6, ...CNPJ_W1];

/** A CNPJ with valid check digits (14 digits; branch 0001). */
export function generateCnpj(rng: Random): string {
  const base = [...Array.from({ length: 8 }, () => rng.int(0, 9)), 0, 0, 0, 1];
  const d1 = cnpjDigit(base, CNPJ_W1);
  const d2 = cnpjDigit([...base, d1], CNPJ_W2);
  return [...base, d1, d2].join('');
}

function cnpjDigit(digits: number[], weights: number[]): number {
  const sum = digits.reduce((s, d, i) => s + d * (weights[i] ?? 0), 0);
  const r = sum % 11;
  return r < 2 ? 0 : 11 - r;
}

export function isValidCnpj(cnpj: string): boolean {
  if (!/^\d{14}$/.test(cnpj)) return false;
  const d = [...cnpj].map(Number);
  return cnpjDigit(d.slice(0, 12), CNPJ_W1) === d[12] && cnpjDigit(d.slice(0, 13), CNPJ_W2) === d[13];
}

/** Luhn check, used to make sure no generated or stored string is a valid full PAN. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** PIX end-to-end id: `E` + payer ISPB (8 digits) + `yyyyMMddHHmm` (UTC) + 11 alphanumerics = 32 chars. */
export function pixEndToEndId(rng: Random, ispb: string, at: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const stamp = `${at.getUTCFullYear()}${p(at.getUTCMonth() + 1)}${p(at.getUTCDate())}${p(at.getUTCHours())}${p(at.getUTCMinutes())}`;
  let tail = '';
  for (let i = 0; i < 11; i++) tail += ALNUM[rng.int(0, ALNUM.length - 1)];
  return `E${ispb}${stamp}${tail}`;
}

/**
 * A 44-digit boleto barcode (FEBRABAN): bank (3), currency 9, general check digit (mod 11), due factor (4),
 * amount in cents (10), free field (25).
 */
export function boletoBarcode(rng: Random, bank: string, dueFactor: number, amountCents: number): string {
  const rest = `${String(dueFactor).padStart(4, '0')}${String(amountCents).padStart(10, '0')}${rng.digits(25)}`;
  const without = `${bank}9${rest}`;
  return `${bank}9${boletoDigit(without)}${rest}`;
}

function boletoDigit(digits43: string): number {
  let weight = 2;
  let sum = 0;
  for (let i = digits43.length - 1; i >= 0; i--) {
    sum += Number(digits43[i]) * weight;
    weight = weight === 9 ? 2 : weight + 1;
  }
  const r = 11 - (sum % 11);
  return r === 0 || r === 10 || r === 11 ? 1 : r;
}

export function isValidBoletoBarcode(code: string): boolean {
  if (!/^\d{44}$/.test(code)) return false;
  return Number(code[4]) === boletoDigit(code.slice(0, 4) + code.slice(5));
}

/** Days between 1997-10-07 and the due date, as in the barcode (FEBRABAN resets it to 1000 after 9999). */
export function boletoDueFactor(due: Date): number {
  const base = Date.UTC(1997, 9, 7);
  const days = Math.floor((due.getTime() - base) / 86_400_000);
  return days > 9999 ? ((days - 10000) % 9000) + 1000 : days;
}

export const ISPBS = ['00000000', '00360305', '60701190', '60746948', '90400888', '18236120', '00416968', '31872495'] as const;
export const BANK_CODES = ['001', '104', '341', '237', '033', '260', '077'] as const;
export const UFS = ['SP', 'RJ', 'MG', 'RS', 'PR', 'SC', 'BA', 'PE', 'CE', 'DF', 'GO', 'PA', 'AM', 'ES'] as const;
export const FIRST_NAMES = [
  'Maria',
  'José',
  'Ana',
  'João',
  'Antônio',
  'Francisca',
  'Luíza',
  'Carlos',
  'Paulo',
  'Adriana',
  'Márcia',
  'Lucas',
  'Júlia',
  'Gabriel',
  'Letícia',
  'Rafael',
  'Beatriz',
  'Sebastião',
  'Conceição',
  'Thiago',
] as const;
export const LAST_NAMES = [
  'Silva',
  'Santos',
  'Oliveira',
  'Souza',
  'Rodrigues',
  'Ferreira',
  'Alves',
  'Pereira',
  'Lima',
  'Gomes',
  'Araújo',
  'Ribeiro',
  'Magalhães',
  'Conceição',
  'Brandão',
  'Gonçalves',
] as const;
/** Merchant category codes (ISO 18245) with a typical ticket in BRL. */
export const MCCS = [
  ['5411', 'Supermercados', 180],
  ['5812', 'Restaurantes', 90],
  ['5814', 'Lanchonetes', 35],
  ['5912', 'Farmácias', 70],
  ['5541', 'Postos de combustível', 150],
  ['5732', 'Eletrônicos', 900],
  ['5651', 'Vestuário', 220],
  ['4121', 'Transporte por aplicativo', 28],
  ['5999', 'Varejo diverso', 120],
  ['7011', 'Hotéis', 650],
] as const;
export const CARD_BINS = [
  ['VISA', '411111'],
  ['VISA', '453211'],
  ['MASTERCARD', '545454'],
  ['MASTERCARD', '522048'],
  ['ELO', '636368'],
  ['ELO', '506699'],
  ['HIPERCARD', '606282'],
] as const;
