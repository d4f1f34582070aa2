-- Payment volume per minute and method (event time). Incremental by partition: only days with new
-- transactions in silver are rebuilt.
select
  date_trunc('minute', created_at) as minute,
  payment_method,
  count(*) as transactions,
  count(*) filter (where status in ('completed', 'captured', 'refunded', 'paid')) as approved,
  coalesce(sum(amount) filter (where status in ('completed', 'captured', 'refunded', 'paid')), 0)::decimal(38, 2) as total_amount,
  dt
from ref('transactions')
where not is_deleted
group by all
