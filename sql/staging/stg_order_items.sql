-- Order lines, one row per order and line number: typed and deduplicated.
-- Line amounts are quantity times unit price, before order-level discounts.
-- @materialized: view
-- @owners: team:data-platform
-- @tags: layer=staging, domain=sales
-- @check: not_null(order_id, line_number, product_id)
-- @check: unique(order_id, line_number)
-- @check: warn expression(quantity > 0)
WITH typed AS (
  SELECT
    TRIM(i.order_id) AS order_id,
    SAFE_CAST(i.line_number AS INT64) AS line_number,
    TRIM(i.product_id) AS product_id,
    SAFE_CAST(i.quantity AS INT64) AS quantity,
    SAFE_CAST(i.unit_price AS NUMERIC) AS unit_price,
    i.updated_at
  FROM raw.order_items AS i
)
SELECT
  order_id,
  line_number,
  product_id,
  quantity,
  unit_price,
  quantity * unit_price AS line_amount,
  updated_at
FROM typed
WHERE order_id IS NOT NULL AND line_number IS NOT NULL
QUALIFY ROW_NUMBER() OVER (PARTITION BY order_id, line_number ORDER BY updated_at DESC) = 1
