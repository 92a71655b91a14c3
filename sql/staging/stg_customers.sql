-- Customers, one row per customer id, with a normalized email and a sales region.
-- Countries outside the EU and North America fall in the `other` region.
-- @materialized: view
-- @owners: team:data-platform
-- @tags: layer=staging, domain=customers, pii
-- @check: not_null(customer_id, region)
-- @check: unique(customer_id)
-- @check: accepted_values(region, ['eu', 'us', 'other'])
WITH typed AS (
  SELECT
    TRIM(SAFE_CAST(c.customer_id AS STRING)) AS customer_id,
    LOWER(TRIM(c.email)) AS email,
    TRIM(c.first_name) AS first_name,
    TRIM(c.last_name) AS last_name,
    UPPER(TRIM(c.country_code)) AS country_code,
    SAFE_CAST(c.signup_date AS DATE) AS signup_date,
    COALESCE(SAFE_CAST(c.marketing_opt_in AS BOOL), FALSE) AS marketing_opt_in,
    SAFE_CAST(c.updated_at AS TIMESTAMP) AS updated_at
  FROM raw.customers AS c
)
SELECT
  customer_id,
  email,
  TRIM(CONCAT(COALESCE(first_name, ''), ' ', COALESCE(last_name, ''))) AS full_name,
  country_code,
  CASE
    WHEN country_code IN ('AT', 'BE', 'DE', 'DK', 'ES', 'FI', 'FR', 'IE', 'IT', 'NL', 'PL', 'PT', 'SE')
      THEN 'eu'
    WHEN country_code IN ('US', 'CA') THEN 'us'
    ELSE 'other'
  END AS region,
  signup_date,
  marketing_opt_in,
  updated_at
FROM typed
WHERE customer_id IS NOT NULL
QUALIFY ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY updated_at DESC) = 1
