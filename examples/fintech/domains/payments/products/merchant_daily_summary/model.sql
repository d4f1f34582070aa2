-- Merchant daily summary over approved payments.
select
  t.dt as day,
  t.merchant_id,
  m.trade_name,
  m.mcc,
  count(*) as transactions,
  sum(t.amount)::decimal(38, 2) as gross_amount,
  round(count(*) filter (where t.payment_method = 'card') / count(*), 4) as card_share,
  avg(t.amount)::decimal(18, 2) as avg_ticket
from ref('transactions') t
left join ref('merchants') m on m.merchant_id = t.merchant_id
where t.merchant_id is not null
  and not t.is_deleted
  and t.status in ('completed', 'captured', 'refunded', 'paid')
group by all
