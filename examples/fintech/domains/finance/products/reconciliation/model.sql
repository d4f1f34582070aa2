-- Captured card sales against acquirer settlements, matched on NSU and authorisation code.
with ledger as (
  select transaction_id, card_nsu, card_auth_code, amount, dt
  from ref('transactions')
  where payment_method = 'card' and status in ('captured', 'refunded') and not is_deleted
),
settled as (
  select nsu, auth_code, sum(gross_amount) as gross_amount, min(transaction_date) as transaction_date
  from ref('settlements')
  group by nsu, auth_code
)
select
  coalesce(l.dt, s.transaction_date) as day,
  case
    when s.nsu is null then 'missing_in_settlement'
    when l.transaction_id is null then 'missing_in_ledger'
    when s.gross_amount <> l.amount then 'amount_mismatch'
    else 'matched'
  end as status,
  count(*) as items,
  coalesce(sum(l.amount), 0)::decimal(38, 2) as internal_amount,
  coalesce(sum(s.gross_amount), 0)::decimal(38, 2) as settled_amount
from ledger l
full outer join settled s on l.card_nsu = s.nsu and l.card_auth_code = s.auth_code
group by all
