import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../../src/core/random.js';
import {
  CARD_BINS,
  generateCnpj,
  generateCpf,
  isValidBoletoBarcode,
  isValidCnpj,
  isValidCpf,
  luhnValid,
} from '../../src/demo/simulator/brazil.js';
import { type AppDocument, FintechSimulator } from '../../src/demo/simulator/fintech-simulator.js';

const options = { seed: 7, customers: 50, merchants: 10, transactionsPerSecond: 100, start: new Date('2026-11-27T12:00:00Z') };

function run(seconds: number, seed = 7) {
  const sim = new FintechSimulator({ ...options, seed });
  const events = [...sim.referenceData()];
  for (let i = 0; i < seconds; i++) events.push(...sim.advance(1000));
  return { sim, events };
}

describe('Brazilian identifiers', () => {
  it('generates CPFs and CNPJs with valid check digits, and the validators reject a changed digit', () => {
    const r = new Random(1);
    for (let i = 0; i < 500; i++) {
      const cpf = generateCpf(r);
      assert.ok(isValidCpf(cpf), cpf);
      assert.ok(!isValidCpf(cpf.slice(0, 10) + String((Number(cpf[10]) + 1) % 10)));
      const cnpj = generateCnpj(r);
      assert.ok(isValidCnpj(cnpj), cnpj);
    }
    assert.ok(isValidCpf('52998224725'));
    assert.ok(isValidCnpj('11222333000181'));
  });
});

describe('FintechSimulator', () => {
  it('creates rate × seconds transactions however the time is cut (as generate advances it by uneven sleeps)', () => {
    // 5 s at 50/s cut like generate's sleeps under load: a fractional carry summed in floating point made 249.
    const cuts = [101, 99, 117, 83, 100, 100, 131, 69, 3, 197];
    for (const rate of [50, 37, 100]) {
      const sim = new FintechSimulator({ ...options, transactionsPerSecond: rate });
      let left = 5000;
      for (let i = 0; left > 0; i++) {
        const ms = Math.min(left, cuts[i % cuts.length] as number);
        sim.advance(ms);
        left -= ms;
      }
      assert.equal(sim.transactionsCreated, 5 * rate, `${rate}/s for 5 s`);
    }
  });

  it('is deterministic by seed', () => {
    const a = JSON.stringify(run(3).events);
    assert.equal(a, JSON.stringify(run(3).events));
    assert.notEqual(a, JSON.stringify(run(3, 8).events));
  });

  it('shapes transactions like Cosmos DB documents, with PIX, card and boleto details that validate', () => {
    const { events, sim } = run(20);
    const tx = events.filter((e) => e.entity === 'transactions').map((e) => e.doc);
    const ids = new Set(tx.map((d) => d.id));
    assert.equal(ids.size, sim.transactionsCreated);
    assert.equal(sim.transactionsCreated, 2000);
    const types = new Set(tx.map((d) => d.type));
    assert.deepEqual([...types].sort(), ['boleto', 'card', 'pix']);
    for (const d of tx) {
      assert.equal(typeof d.pk, 'string');
      assert.ok(Number.isInteger(d._ts) && d.version >= 1);
      assert.ok(typeof d.amount === 'number' && d.amount > 0);
      assert.equal(Math.round(d.amount * 100) / 100, d.amount, 'amounts are in cents');
      const payer = d.payer as { cpf: string };
      assert.ok(isValidCpf(payer.cpf));
      if (d.type === 'pix') assert.match((d.pix as { end_to_end_id: string }).end_to_end_id, /^E\d{8}\d{12}[A-Za-z0-9]{11}$/);
      if (d.type === 'boleto') assert.ok(isValidBoletoBarcode((d.boleto as { barcode: string }).barcode));
      if (d.type === 'card') {
        const card = d.card as { pan_masked: string; nsu: string; auth_code: string; installments: number };
        assert.match(card.pan_masked, /^\d{6}\*{6}\d{4}$/);
        assert.match(card.nsu, /^\d{12}$/);
        assert.match(card.auth_code, /^\d{6}$/);
      }
    }
  });

  it('never emits a full card number anywhere in a document', () => {
    const { events } = run(10);
    const bins = CARD_BINS.map(([, bin]) => bin);
    let cards = 0;
    for (const e of events) {
      const text = JSON.stringify(e.doc);
      if (e.doc.card) cards++;
      for (const m of text.matchAll(/\d{13,19}/g)) {
        assert.ok(!(bins.some((b) => m[0].startsWith(b)) && luhnValid(m[0])), `a full PAN in ${e.doc.id}`);
      }
    }
    assert.ok(cards > 0);
  });

  it('moves payments through their status lifecycles with increasing versions', () => {
    const { events } = run(30);
    const byId = new Map<string, AppDocument[]>();
    for (const e of events) if (e.entity === 'transactions') byId.set(e.doc.id, [...(byId.get(e.doc.id) ?? []), e.doc]);
    const finals = new Map<string, number>();
    for (const versions of byId.values()) {
      for (const [i, v] of versions.entries()) assert.equal(v.version, i + 1);
      const first = versions[0] as AppDocument;
      const last = versions[versions.length - 1] as AppDocument;
      const path = `${first.type}:${versions.map((v) => v.status).join('>')}`;
      finals.set(path, (finals.get(path) ?? 0) + 1);
      if (first.type === 'pix')
        assert.ok(['created', 'created>completed', 'created>failed'].includes(versions.map((v) => v.status).join('>')), path);
      assert.ok(String(last.updated_at) >= String(first.created_at));
    }
    assert.ok(finals.get('pix:created>completed'), 'some PIX complete');
    assert.ok(finals.get('card:declined'), 'some cards are declined');
    assert.ok(finals.get('card:authorized>captured'), 'some cards are captured');
    assert.ok(finals.get('boleto:issued>paid'), 'some boletos are paid');
  });
});
