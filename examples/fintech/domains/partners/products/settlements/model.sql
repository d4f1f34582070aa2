-- Settled sales, one row per (nsu, auth_code, installment): a sale repeated across files counts once.
select
  settlement_date,
  transaction_date,
  merchant_id,
  nsu,
  auth_code,
  installment,
  brand,
  gross_amount,
  fee_amount,
  net_amount,
  _source_file as source_file
from source('acquirer-settlements')
qualify row_number() over (partition by nsu, auth_code, installment order by _ingested_at desc, _line desc) = 1
