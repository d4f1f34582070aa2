-- Customer 360: profile plus payment behaviour. Only tokens and coarse attributes: no raw PII.
with method_use as (
  select customer_id, payment_method, count(*) as uses
  from ref('transactions')
  where not is_deleted
  group by customer_id, payment_method
),
preferred as (
  -- The most used method; a tie goes to the first name in alphabetical order, so the same input always gives the
  -- same answer (mode() picks any of the tied values).
  select customer_id, first(payment_method order by uses desc, payment_method) as preferred_method
  from method_use
  group by customer_id
),
behaviour as (
  select
    customer_id,
    count(*) as transactions,
    coalesce(sum(amount) filter (where status in ('completed', 'captured', 'refunded', 'paid')), 0)::decimal(38, 2) as total_amount,
    round(count(*) filter (where payment_method = 'pix') / count(*), 4) as pix_share,
    min(created_at) as first_transaction_at,
    max(created_at) as last_transaction_at
  from ref('transactions')
  where not is_deleted
  group by customer_id
)
select
  c.customer_id,
  c.cpf_token,
  c.segment,
  c.state,
  c.birth_year,
  coalesce(b.transactions, 0) as transactions,
  coalesce(b.total_amount, 0)::decimal(38, 2) as total_amount,
  b.pix_share,
  p.preferred_method,
  b.first_transaction_at,
  b.last_transaction_at
from ref('customers') c
left join behaviour b using (customer_id)
left join preferred p using (customer_id)
