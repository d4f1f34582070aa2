import { Random } from '../../core/random.js';
import {
  BANK_CODES,
  boletoBarcode,
  boletoDueFactor,
  CARD_BINS,
  FIRST_NAMES,
  generateCnpj,
  generateCpf,
  ISPBS,
  LAST_NAMES,
  MCCS,
  pixEndToEndId,
  UFS,
} from './brazil.js';

/** A document as the app stores it in Cosmos DB: `id`, partition key `pk`, `_ts` (epoch seconds), a `version`. */
export interface AppDocument {
  id: string;
  pk: string;
  version: number;
  _ts: number;
  [field: string]: unknown;
}

/** One change the app made: the whole new version of a document, and the entity it belongs to. */
export interface ChangeEvent {
  entity: 'transactions' | 'customers' | 'merchants';
  doc: AppDocument;
}

export interface SimulatorOptions {
  seed: number;
  customers: number;
  merchants: number;
  /** New transactions per simulated second. */
  transactionsPerSecond: number;
  /** Simulated time of the first event. */
  start: Date;
  /** Known app bugs, injected at these rates so quality checks have something to find. */
  defects?: { lowercaseCurrency?: number };
}

type PaymentType = 'pix' | 'card' | 'boleto';

interface Pending {
  doc: AppDocument;
  dueAt: number;
  next: string;
}

/**
 * The fintech app, simulated: customers, merchants and PIX, card and boleto payments with their status
 * lifecycles. Deterministic: the same options give the same events, byte for byte.
 */
export class FintechSimulator {
  private readonly rng: Random;
  private readonly customers: AppDocument[] = [];
  private readonly merchants: AppDocument[] = [];
  private readonly pending: Pending[] = [];
  private clock: number;
  /** Simulated milliseconds advanced and transactions created from them: counted from the totals, not from a
   * fractional carry, so however the time is cut (100 ms sleeps that fall differently), the same seconds give the
   * same number of transactions — a carry summed in floating point lost one now and then (249 of 250). */
  private advancedMs = 0;
  private created = 0;
  private txCount = 0;
  private readonly opts: SimulatorOptions;

  constructor(options: SimulatorOptions) {
    this.opts = options;
    this.rng = new Random(options.seed);
    this.clock = options.start.getTime();
    for (let i = 0; i < options.customers; i++) this.customers.push(this.makeCustomer(i));
    for (let i = 0; i < options.merchants; i++) this.merchants.push(this.makeMerchant(i));
  }

  /** The reference data, as change events (version 1 of every customer and merchant). */
  referenceData(): ChangeEvent[] {
    return [
      ...this.customers.map((doc) => ({ entity: 'customers' as const, doc })),
      ...this.merchants.map((doc) => ({ entity: 'merchants' as const, doc })),
    ];
  }

  /** Transactions created so far (distinct ids). */
  get transactionsCreated(): number {
    return this.txCount;
  }

  /**
   * Advances simulated time by `ms` and returns what the app changed meanwhile: new transactions at the
   * configured rate and status updates that fell due, in event-time order.
   */
  advance(ms: number): ChangeEvent[] {
    const from = this.clock;
    const to = from + ms;
    this.advancedMs += ms;
    const due = Math.floor((this.advancedMs * this.opts.transactionsPerSecond) / 1000 + 1e-9);
    const n = due - this.created;
    this.created = due;
    const events: ChangeEvent[] = [];
    for (let i = 0; i < n; i++) {
      const at = from + Math.floor(((i + 0.5) / n) * ms);
      events.push({ entity: 'transactions', doc: this.makeTransaction(at) });
    }
    for (let i = 0; i < this.pending.length; ) {
      const p = this.pending[i] as Pending;
      if (p.dueAt <= to) {
        events.push({ entity: 'transactions', doc: this.transition(p) });
        this.pending.splice(i, 1);
      } else i++;
    }
    this.clock = to;
    events.sort((a, b) => String(a.doc.updated_at).localeCompare(String(b.doc.updated_at)));
    return events;
  }

  private makeCustomer(i: number): AppDocument {
    const r = this.rng;
    const id = `cus_${String(i + 1).padStart(7, '0')}`;
    const first = r.pick(FIRST_NAMES);
    const last = `${r.pick(LAST_NAMES)} ${r.pick(LAST_NAMES)}`;
    const created = new Date(this.clock - r.int(30, 2000) * 86_400_000);
    const birthYear = r.int(1950, 2006);
    return {
      id,
      pk: id,
      cpf: generateCpf(r),
      name: `${first} ${last}`,
      email: `${ascii(first)}.${ascii(last.split(' ')[0] ?? 'x')}${r.int(1, 999)}@example.com.br`.toLowerCase(),
      phone: `+55${r.int(11, 99)}9${r.digits(8)}`,
      birth_date: `${birthYear}-${String(r.int(1, 12)).padStart(2, '0')}-${String(r.int(1, 28)).padStart(2, '0')}`,
      state: r.pick(UFS),
      segment: r.weighted([
        ['retail', 70],
        ['premium', 20],
        ['business', 10],
      ] as const),
      created_at: created.toISOString(),
      updated_at: created.toISOString(),
      version: 1,
      _ts: Math.floor(created.getTime() / 1000),
    };
  }

  private makeMerchant(i: number): AppDocument {
    const r = this.rng;
    const id = `mer_${String(i + 1).padStart(6, '0')}`;
    const [mcc, category] = r.pick(MCCS);
    const name = `${r.pick(LAST_NAMES)} ${category}`;
    const created = new Date(this.clock - r.int(90, 3000) * 86_400_000);
    return {
      id,
      pk: id,
      cnpj: generateCnpj(r),
      legal_name: `${name} LTDA`,
      trade_name: name,
      mcc,
      category,
      city_state: r.pick(UFS),
      created_at: created.toISOString(),
      updated_at: created.toISOString(),
      version: 1,
      _ts: Math.floor(created.getTime() / 1000),
    };
  }

  private makeTransaction(at: number): AppDocument {
    const r = this.rng;
    this.txCount++;
    const customer = r.pick(this.customers);
    const type: PaymentType = r.weighted([
      ['pix', 55],
      ['card', 38],
      ['boleto', 7],
    ] as const);
    const merchant = type === 'pix' && r.chance(0.4) ? undefined : r.pick(this.merchants);
    const typical = merchant ? Number(MCCS.find((m) => m[0] === merchant.mcc)?.[2] ?? 100) : 120;
    // Log-normal around the merchant's typical ticket: most payments small, a long tail of large ones.
    const amount = Math.max(0.5, Math.min(250_000, Math.round(typical * Math.exp(0.9 * r.normal()) * 100) / 100));
    const now = new Date(at);
    const id = uuidFrom(r, at);
    const doc: AppDocument = {
      id,
      pk: String(customer.id),
      type,
      status: 'created',
      amount,
      currency: r.chance(this.opts.defects?.lowercaseCurrency ?? 0) ? 'brl' : 'BRL',
      customer_id: customer.id,
      merchant_id: merchant?.id ?? null,
      payer: { cpf: customer.cpf, name: customer.name },
      channel: r.weighted([
        ['app', 70],
        ['web', 12],
        ['pos', 13],
        ['api', 5],
      ] as const),
      pix: null,
      card: null,
      boleto: null,
      created_at: now.toISOString(),
      updated_at: now.toISOString(),
      version: 1,
      _ts: Math.floor(at / 1000),
    };
    if (type === 'pix') {
      doc.pix = {
        end_to_end_id: pixEndToEndId(r, r.pick(ISPBS), now),
        payee_key_type: r.weighted([
          ['cpf', 30],
          ['email', 15],
          ['phone', 25],
          ['random', 20],
          ['cnpj', 10],
        ] as const),
      };
      this.schedule(doc, at + r.int(200, 2500), r.chance(0.96) ? 'completed' : 'failed');
    } else if (type === 'card') {
      const [brand, bin] = r.pick(CARD_BINS);
      const funding = r.chance(0.62) ? 'credit' : 'debit';
      doc.card = {
        brand,
        funding,
        installments:
          funding === 'credit' && amount > 200
            ? r.weighted([
                [1, 55],
                [2, 10],
                [3, 12],
                [6, 10],
                [10, 8],
                [12, 5],
              ] as const)
            : 1,
        nsu: r.digits(12),
        auth_code: r.digits(6),
        pan_masked: `${bin}******${r.digits(4)}`,
      };
      if (r.chance(0.06)) {
        doc.status = 'declined';
      } else {
        doc.status = 'authorized';
        this.schedule(doc, at + r.int(500, 4000), 'captured');
      }
    } else {
      const due = new Date(at + r.int(1, 10) * 86_400_000);
      doc.status = 'issued';
      doc.boleto = {
        barcode: boletoBarcode(r, r.pick(BANK_CODES), boletoDueFactor(due), Math.round(amount * 100)),
        due_date: due.toISOString().slice(0, 10),
      };
      this.schedule(doc, at + r.int(1000, 8000), r.chance(0.75) ? 'paid' : 'expired');
    }
    return doc;
  }

  private schedule(doc: AppDocument, dueAt: number, next: string): void {
    this.pending.push({ doc, dueAt, next });
  }

  private transition(p: Pending): AppDocument {
    const at = Math.max(p.dueAt, Date.parse(String(p.doc.updated_at)) + 1);
    const doc: AppDocument = {
      ...p.doc,
      status: p.next,
      version: p.doc.version + 1,
      updated_at: new Date(at).toISOString(),
      _ts: Math.floor(at / 1000),
    };
    if (p.next === 'captured' && this.rng.chance(0.015)) this.schedule(doc, at + this.rng.int(2000, 9000), 'refunded');
    return doc;
  }
}

function ascii(s: string): string {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '');
}

/** A UUIDv7-shaped id from the simulator's own PRNG, so runs with the same seed give the same ids. */
function uuidFrom(r: Random, at: number): string {
  const hex = at.toString(16).padStart(12, '0').slice(-12);
  let rand = '';
  for (let i = 0; i < 20; i++) rand += r.int(0, 15).toString(16);
  const variant = ((r.int(0, 3) | 8) >>> 0).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${rand.slice(0, 3)}-${variant}${rand.slice(3, 6)}-${rand.slice(6, 18)}`;
}
