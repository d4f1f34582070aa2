-- Disputed card sales, one row per dispute: a dispute re-sent in a later report keeps its latest version.
select
  case_id,
  opened_on,
  transaction_date,
  nsu,
  auth_code,
  merchant_id,
  brand,
  amount,
  reason_code,
  reason,
  status,
  _source_file as source_file
from source('acquirer-chargebacks')
qualify row_number() over (partition by case_id order by _ingested_at desc, _line desc) = 1
