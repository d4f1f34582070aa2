-- Daily volume by payment method. "Approved" means money moved: completed PIX, captured or refunded cards, paid boletos.
select
  dt as day,
  payment_method,
  count(*) as transactions,
  count(*) filter (where status in ('completed', 'captured', 'refunded', 'paid')) as approved,
  round(approved / count(*), 4) as approval_rate,
  coalesce(sum(amount) filter (where status in ('completed', 'captured', 'refunded', 'paid')), 0)::decimal(38, 2) as total_amount,
  avg(amount)::decimal(18, 2) as avg_ticket
from ref('transactions')
where not is_deleted
group by all
order by day, payment_method
