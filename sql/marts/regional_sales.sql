-- Product sales per region and day, one Dagster partition per sales region.
-- Each run upserts its region's rows only, so EU and US can be refreshed apart.
-- @materialized: merge
-- @unique_key: region, order_date, product_id
-- @partitions: values(eu, us)
-- @partition_by: order_date
-- @cluster_by: region, product_id
-- @owners: team:analytics
-- @tags: layer=mart, domain=sales
-- @check: not_null(region, order_date, product_id)
-- @check: unique(region, order_date, product_id)
-- @check: accepted_values(region, ['eu', 'us'])
-- @check: expression(units >= 0)
SELECT
  c.region,
  o.order_date,
  i.product_id,
  COALESCE(p.category, 'uncategorized') AS category,
  COUNT(DISTINCT o.order_id) AS orders,
  SUM(i.quantity) AS units,
  SUM(i.line_amount) AS revenue
FROM staging.stg_orders AS o
INNER JOIN staging.stg_order_items AS i ON i.order_id = o.order_id
INNER JOIN staging.stg_customers AS c ON c.customer_id = o.customer_id
LEFT JOIN staging.stg_products AS p ON p.product_id = i.product_id
WHERE c.region = @partition_key AND o.status NOT IN ('cancelled', 'test')
GROUP BY c.region, o.order_date, i.product_id, p.category
