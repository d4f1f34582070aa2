-- Customers, pseudonymised: CPF tokenised, birth date reduced to the year, name/email/phone not carried.
select
  id as customer_id,
  tokenize(cpf) as cpf_token,
  year(birth_date) as birth_year,
  state,
  segment,
  created_at as customer_since,
  version
from source('customer-profiles')
qualify row_number() over (partition by id order by version desc, _ingested_at desc) = 1
