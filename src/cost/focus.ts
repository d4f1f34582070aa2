import type { Project } from '../config/project.js';
import type { PricedUsage } from './report.js';

/**
 * The FinOps Open Cost and Usage Specification (FOCUS) 1.2 CostAndUsage columns finmesh writes, in order, then its own
 * (`x_`-prefixed). Columns of features finmesh's estimates do not have (commitment discounts, capacity reservations)
 * are left out or left empty; the pricing currency is the billing currency.
 */
export const FOCUS_COLUMNS = [
  'BilledCost',
  'BillingAccountId',
  'BillingAccountName',
  'BillingCurrency',
  'BillingPeriodEnd',
  'BillingPeriodStart',
  'ChargeCategory',
  'ChargeClass',
  'ChargeDescription',
  'ChargeFrequency',
  'ChargePeriodEnd',
  'ChargePeriodStart',
  'CommitmentDiscountStatus',
  'ConsumedQuantity',
  'ConsumedUnit',
  'ContractedCost',
  'EffectiveCost',
  'InvoiceId',
  'InvoiceIssuerName',
  'ListCost',
  'ListUnitPrice',
  'PricingCurrency',
  'PricingCurrencyContractedUnitPrice',
  'PricingCurrencyEffectiveCost',
  'PricingCurrencyListUnitPrice',
  'PricingQuantity',
  'PricingUnit',
  'ProviderName',
  'PublisherName',
  'RegionId',
  'RegionName',
  'ResourceId',
  'ResourceName',
  'ResourceType',
  'ServiceCategory',
  'ServiceName',
  'ServiceSubcategory',
  'SkuId',
  'SkuMeter',
  'SkuPriceDetails',
  'SkuPriceId',
  'SubAccountId',
  'SubAccountName',
  'Tags',
  'x_Domain',
  'x_Product',
  'x_Source',
  'x_CostCenter',
  'x_Component',
  'x_Meter',
  'x_PriceSource',
  'x_PriceAsOf',
] as const;

export type FocusColumn = (typeof FOCUS_COLUMNS)[number];
export type FocusRow = Record<FocusColumn, string | number | null>;

/** The FOCUS applicability criteria finmesh's export meets: `focus-validator --applicability-criteria` takes them. */
export const FOCUS_APPLICABILITY = [
  'USAGE_MEASUREMENT_SUPPORTED',
  'PUBLIC_PRICE_LIST_SUPPORTED',
  'UNIT_PRICING_SUPPORTED',
  'REGION_SUPPORTED',
  'SUB_ACCOUNT_SUPPORTED',
  'TAGGING_SUPPORTED',
  'BILLING_BASED_ON_PROVISIONED_RESOURCES_SUPPORTED',
  'RESOURCE_TYPE_ASSIGNMENT_SUPPORTED',
] as const;

/** FOCUS ServiceCategory and ServiceSubcategory of each service the price sheet names. */
const SERVICES: Record<string, [string, string]> = {
  'Cloud Storage': ['Storage', 'Object Storage'],
  BigQuery: ['Databases', 'Data Warehouses'],
  'Pub/Sub': ['Integration', 'Messaging'],
  'Cloud Logging': ['Management and Governance', 'Observability'],
  'Cloud Monitoring': ['Management and Governance', 'Observability'],
  'Dataplex Data Lineage': ['Management and Governance', 'Data Governance'],
  'Cloud Run': ['Compute', 'Serverless Compute'],
  'Cloud SQL': ['Databases', 'Relational Databases'],
  Networking: ['Networking', 'Network Connectivity'],
};

const REGION_NAMES: Record<string, string> = {
  'us-central1': 'Iowa',
  'us-east1': 'South Carolina',
  'us-east4': 'Northern Virginia',
  'us-west1': 'Oregon',
  'southamerica-east1': 'São Paulo',
  'europe-west1': 'Belgium',
};

/**
 * The month's cost and usage records as FOCUS rows: one per day, price line and what it was for (product, source,
 * component; storage per dataset). Costs are list prices (finmesh estimates; no invoice), so BilledCost, EffectiveCost,
 * ContractedCost and ListCost are equal and InvoiceId is empty. Signals a monitoring control kept out cost nothing
 * and are not rows.
 */
export function focusRows(project: Project, priced: PricedUsage): FocusRow[] {
  const cost = project.config.cost;
  const account = cost.billingAccount ?? project.config.name;
  const subAccount = cost.gcpProject ?? project.config.name;
  const { period } = priced;
  const groups = new Map<string, FocusRow>();
  for (const l of priced.lines) {
    if (l.avoided) continue;
    const r = l.record;
    const resource = r.attributes.dataset
      ? { id: r.attributes.dataset, type: 'Lake dataset' }
      : r.product
        ? { id: `product/${r.product}`, type: 'Data product' }
        : r.source
          ? { id: `source/${r.source}`, type: 'Data source' }
          : { id: `component/${r.component}`, type: 'finmesh component' };
    const key = [r.day, l.price.id, resource.id, r.component, r.domain, r.product, r.source, r.costCenter, r.meter].join('\u0000');
    const seen = groups.get(key);
    if (seen) {
      for (const c of ['BilledCost', 'ContractedCost', 'EffectiveCost', 'ListCost', 'PricingCurrencyEffectiveCost'] as const)
        seen[c] = (seen[c] as number) + l.cost;
      const q = quantities(l);
      seen.PricingQuantity = (seen.PricingQuantity as number) + q.pricing;
      seen.ConsumedQuantity = (seen.ConsumedQuantity as number) + q.consumed;
      continue;
    }
    const day = new Date(`${r.day}T00:00:00Z`);
    const [category, subcategory] = SERVICES[l.price.service] ?? ['Other', 'Other (Other)'];
    const tags: Record<string, string> = {};
    if (r.domain) tags.domain = r.domain;
    if (r.product) tags.product = r.product;
    if (r.source) tags.source = r.source;
    if (r.costCenter) tags['cost-center'] = r.costCenter;
    tags.component = r.component;
    const q = quantities(l);
    groups.set(key, {
      BilledCost: l.cost,
      BillingAccountId: account,
      BillingAccountName: account,
      BillingCurrency: priced.sheet.currency,
      BillingPeriodEnd: iso(period.end),
      BillingPeriodStart: iso(period.start),
      ChargeCategory: 'Usage',
      ChargeClass: null,
      ChargeDescription: `${l.price.sku} for ${resource.id.replace('/', ' ')} (${r.component})`,
      ChargeFrequency: 'Usage-Based',
      ChargePeriodEnd: iso(new Date(day.getTime() + 86_400_000)),
      ChargePeriodStart: iso(day),
      CommitmentDiscountStatus: null,
      ConsumedQuantity: q.consumed,
      ConsumedUnit: q.consumedUnit,
      ContractedCost: l.cost,
      EffectiveCost: l.cost,
      InvoiceId: null,
      InvoiceIssuerName: 'Google Cloud',
      ListCost: l.cost,
      ListUnitPrice: l.price.price,
      PricingCurrency: priced.sheet.currency,
      PricingCurrencyContractedUnitPrice: l.price.price,
      PricingCurrencyEffectiveCost: l.cost,
      PricingCurrencyListUnitPrice: l.price.price,
      PricingQuantity: q.pricing,
      PricingUnit: l.price.unit,
      ProviderName: 'Google Cloud',
      PublisherName: 'Google Cloud',
      RegionId: l.price.region ?? priced.sheet.region,
      RegionName: REGION_NAMES[l.price.region ?? priced.sheet.region] ?? l.price.region ?? priced.sheet.region,
      ResourceId: resource.id,
      ResourceName: resource.id,
      ResourceType: resource.type,
      ServiceCategory: category,
      ServiceName: l.price.service,
      ServiceSubcategory: subcategory,
      SkuId: l.price.id,
      SkuMeter: l.price.sku,
      SkuPriceDetails: null,
      SkuPriceId: `${l.price.id}@${l.price.region ?? 'global'}`,
      SubAccountId: subAccount,
      SubAccountName: subAccount,
      Tags: JSON.stringify(tags),
      x_Domain: r.domain ?? null,
      x_Product: r.product ?? null,
      x_Source: r.source ?? null,
      x_CostCenter: r.costCenter ?? null,
      x_Component: r.component,
      x_Meter: r.meter,
      x_PriceSource: l.price.source,
      x_PriceAsOf: l.price.asOf,
    });
  }
  return [...groups.values()].sort(
    (a, b) => String(a.ChargePeriodStart).localeCompare(String(b.ChargePeriodStart)) || String(a.SkuId).localeCompare(String(b.SkuId)),
  );
}

/** Pricing quantity in the price's unit; consumed quantity in that unit without its multiplier (`1000 Requests` → `Requests`). */
function quantities(l: PricedUsage['lines'][number]): { pricing: number; consumed: number; consumedUnit: string } {
  const m = /^([0-9]+) (.+)$/.exec(l.price.unit);
  const multiplier = m ? Number(m[1]) : 1;
  return { pricing: l.pricingQuantity, consumed: l.pricingQuantity * multiplier, consumedUnit: m ? (m[2] as string) : l.price.unit };
}

function iso(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** FOCUS rows as CSV (RFC 4180): decimals always with a point and never in exponent form, nulls empty. */
export function focusCsv(rows: FocusRow[]): string {
  const cell = (v: string | number | null): string => {
    if (v === null) return '';
    if (typeof v === 'number') return decimal(v);
    return /[",\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
  };
  return `${[FOCUS_COLUMNS.join(','), ...rows.map((r) => FOCUS_COLUMNS.map((c) => cell(r[c])).join(','))].join('\n')}\n`;
}

/** A number as a plain decimal with a fractional part (`12.0`, `0.000000123`), which tools read as a decimal type. */
export function decimal(n: number): string {
  const text = n.toLocaleString('en-US', { useGrouping: false, maximumSignificantDigits: 17, maximumFractionDigits: 100 });
  return text.includes('.') ? text : `${text}.0`;
}
