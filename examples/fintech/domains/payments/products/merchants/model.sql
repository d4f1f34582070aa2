-- Latest version of each merchant.
select
  id as merchant_id,
  cnpj,
  legal_name,
  trade_name,
  mcc,
  category,
  city_state as state,
  created_at,
  version
from source('merchant-registry')
qualify row_number() over (partition by id order by version desc, _ingested_at desc) = 1
