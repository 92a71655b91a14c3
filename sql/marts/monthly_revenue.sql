-- Monthly revenue by region, the figures of the board pack.
-- Runs after the customer dimension is refreshed, so month-end figures and the CRM
-- agree on every customer's region.
-- @materialized: insert_overwrite
-- @partition_by: DATE_TRUNC(revenue_month, MONTH)
-- @partitions: monthly
-- @start: 2024-01-01
-- @cluster_by: region
-- @schedule: 0 6 2 * *
-- @depends_on: marts.customers
-- @owners: finance-data@shop.example
-- @tags: layer=mart, domain=finance, tier=gold
-- @labels: team=analytics, cost_center=finance
-- @maximum_bytes_billed: 10GB
-- @check: not_null(revenue_month, region)
-- @check: unique(revenue_month, region)
-- @check: accepted_values(region, ['eu', 'us', 'other'])
-- @check: warn row_count(min=1, max=10)
WITH daily AS (
  SELECT
    DATE_TRUNC(d.order_date, MONTH) AS revenue_month,
    COALESCE(c.region, 'other') AS region,
    d.customer_id,
    d.orders,
    d.units,
    d.net_revenue,
    d.shipping_revenue
  FROM marts.daily_revenue AS d
  LEFT JOIN staging.stg_customers AS c ON c.customer_id = d.customer_id
  WHERE d.order_date >= @start_date AND d.order_date < @end_date
)
SELECT
  revenue_month,
  region,
  COUNT(DISTINCT customer_id) AS customers,
  SUM(orders) AS orders,
  SUM(units) AS units,
  SUM(net_revenue) AS net_revenue,
  SUM(shipping_revenue) AS shipping_revenue,
  SAFE_DIVIDE(SUM(net_revenue), SUM(orders)) AS average_order_value
FROM daily
GROUP BY revenue_month, region
