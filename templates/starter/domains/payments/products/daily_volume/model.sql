-- Latest version of each transaction, then daily volume by payment method.
with latest as (
  select * from source('app-transactions')
  qualify row_number() over (partition by id order by version desc) = 1
)
select
  cast(created_at as date) as day,
  type as payment_method,
  count(*) as transactions,
  sum(amount)::decimal(38, 2) as total_amount
from latest
group by all
