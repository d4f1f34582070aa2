-- Customer 360: profile plus payment behaviour. Only tokens and coarse attributes: no raw PII.
with behaviour as (
  select
    customer_id,
    count(*) as transactions,
    coalesce(sum(amount) filter (where status in ('completed', 'captured', 'refunded', 'paid')), 0)::decimal(38, 2) as total_amount,
    round(count(*) filter (where payment_method = 'pix') / count(*), 4) as pix_share,
    mode(payment_method) as preferred_method,
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
  b.preferred_method,
  b.first_transaction_at,
  b.last_transaction_at
from ref('customers') c
left join behaviour b using (customer_id)
