-- Revenue per customer and day: the grain of the finance dashboard.
-- Cancelled and test orders are excluded; amounts are net of discounts.
-- @materialized: insert_overwrite
-- @partition_by: order_date
-- @partitions: daily
-- @start: 2024-01-01
-- @cluster_by: customer_id
-- @schedule: 0 3 * * *
-- @owners: finance-data@shop.example, team:analytics
-- @tags: layer=mart, domain=finance, tier=gold
-- @labels: team=analytics, cost_center=finance
-- @maximum_bytes_billed: 50GB
-- @check: not_null(order_date, customer_id)
-- @check: unique(order_date, customer_id)
-- @check: expression(net_revenue >= 0 AND orders > 0)
-- @check: warn row_count(min=1)
WITH orders AS (
  SELECT
    o.order_id,
    o.customer_id,
    o.order_date,
    o.net_amount,
    o.shipping_amount,
    o.created_at
  FROM staging.stg_orders AS o
  WHERE o.created_at >= @start_ts
    AND o.created_at < @end_ts
    AND o.status NOT IN ('cancelled', 'test')
),
items AS (
  SELECT
    i.order_id,
    SUM(i.quantity) AS units,
    COUNT(DISTINCT i.product_id) AS distinct_products
  FROM staging.stg_order_items AS i
  INNER JOIN orders AS o ON o.order_id = i.order_id
  GROUP BY i.order_id
)
SELECT
  o.order_date,
  o.customer_id,
  COUNT(*) AS orders,
  SUM(COALESCE(i.units, 0)) AS units,
  MAX(COALESCE(i.distinct_products, 0)) AS max_distinct_products,
  SUM(o.net_amount) AS net_revenue,
  SUM(o.shipping_amount) AS shipping_revenue,
  MIN(o.created_at) AS first_order_at,
  MAX(o.created_at) AS last_order_at
FROM orders AS o
LEFT JOIN items AS i ON i.order_id = o.order_id
GROUP BY o.order_date, o.customer_id
