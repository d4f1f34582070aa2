-- Silver transactions: one row per transaction id, latest version wins (incremental merge by transaction_id).
-- The payer's CPF is tokenised (keyed HMAC); the payer's name does not leave bronze. A delete at the source
-- becomes a tombstone (is_deleted) so consumers see it went away.
select
  id as transaction_id,
  type as payment_method,
  status,
  amount,
  currency,
  customer_id,
  merchant_id,
  tokenize(payer.cpf) as payer_cpf_token,
  channel,
  pix.end_to_end_id as pix_end_to_end_id,
  pix.payee_key_type as pix_key_type,
  card.brand as card_brand,
  card.funding as card_funding,
  card.installments as card_installments,
  card.nsu as card_nsu,
  card.auth_code as card_auth_code,
  mask_pan(card.pan_masked) as card_pan_masked,
  boleto.barcode as boleto_barcode,
  boleto.due_date as boleto_due_date,
  created_at,
  updated_at,
  version,
  _ts as source_ts,
  _op = 'delete' as is_deleted,
  _ingested_at,
  cast(created_at as date) as dt
from source('core-transactions')
