-- Card velocity: a customer with more than 3 card transactions inside any 60-second window, per day.
-- Incremental by partition: only days with new transactions are recomputed.
with windowed as (
  select
    customer_id,
    created_at,
    dt,
    count(*) over (
      partition by customer_id order by created_at
      range between interval 60 seconds preceding and current row
    ) as n
  from ref('transactions')
  where payment_method = 'card' and not is_deleted
)
select
  customer_id,
  'card_velocity_60s' as signal,
  max(n) as max_card_transactions_60s,
  min(created_at) as first_seen,
  max(created_at) as last_seen,
  dt
from windowed
where n > 3
group by customer_id, dt
