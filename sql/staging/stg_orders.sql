-- Orders, one row per order: trimmed, typed and deduplicated.
-- The landing files may hold several versions of an order; the latest update wins.
-- @materialized: view
-- @owners: team:data-platform
-- @tags: layer=staging, domain=sales
-- @check: not_null(order_id, customer_id, created_at)
-- @check: unique(order_id)
-- @check: accepted_values(status, ['placed', 'paid', 'shipped', 'delivered', 'returned', 'cancelled', 'test'])
WITH typed AS (
  SELECT
    TRIM(o.order_id) AS order_id,
    TRIM(o.customer_id) AS customer_id,
    LOWER(TRIM(o.status)) AS status,
    UPPER(TRIM(o.currency)) AS currency,
    COALESCE(LOWER(TRIM(o.channel)), 'web') AS channel,
    SAFE_CAST(o.amount AS NUMERIC) AS gross_amount,
    COALESCE(SAFE_CAST(o.discount_amount AS NUMERIC), 0) AS discount_amount,
    COALESCE(SAFE_CAST(o.shipping_amount AS NUMERIC), 0) AS shipping_amount,
    o.created_at,
    COALESCE(o.updated_at, o.created_at) AS updated_at
  FROM raw.orders AS o
  WHERE o.order_id IS NOT NULL
)
SELECT
  order_id,
  customer_id,
  status,
  currency,
  channel,
  gross_amount,
  discount_amount,
  shipping_amount,
  gross_amount - discount_amount AS net_amount,
  created_at,
  DATE(created_at) AS order_date,
  updated_at
FROM typed
QUALIFY ROW_NUMBER() OVER (PARTITION BY order_id ORDER BY updated_at DESC) = 1
