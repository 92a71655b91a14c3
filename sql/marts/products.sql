-- Product catalog with its category path, price band and sales to date.
-- Rebuilt whole on every run: it is small.
-- @materialized: table
-- @cluster_by: category, product_id
-- @owners: team:merchandising
-- @tags: layer=mart, domain=catalog
-- @check: not_null(product_id, sku, category)
-- @check: unique(product_id)
-- @check: unique(sku)
-- @check: accepted_values(price_band, ['budget', 'standard', 'premium'])
WITH sales AS (
  SELECT
    i.product_id,
    SUM(i.quantity) AS units_sold,
    SUM(i.line_amount) AS revenue,
    COUNT(DISTINCT i.order_id) AS orders
  FROM staging.stg_order_items AS i
  INNER JOIN staging.stg_orders AS o ON o.order_id = i.order_id
  WHERE o.status NOT IN ('cancelled', 'test')
  GROUP BY i.product_id
),
catalog AS (
  SELECT
    p.product_id,
    p.sku,
    p.product_name,
    p.brand,
    COALESCE(p.category, 'uncategorized') AS category,
    COALESCE(p.subcategory, 'other') AS subcategory,
    p.list_price,
    p.is_active
  FROM staging.stg_products AS p
)
SELECT
  c.product_id,
  c.sku,
  c.product_name,
  c.brand,
  c.category,
  c.subcategory,
  CONCAT(c.category, ' > ', c.subcategory) AS category_path,
  c.list_price,
  CASE
    WHEN c.list_price IS NULL THEN NULL
    WHEN c.list_price < 20 THEN 'budget'
    WHEN c.list_price < 100 THEN 'standard'
    ELSE 'premium'
  END AS price_band,
  c.is_active,
  COALESCE(s.units_sold, 0) AS units_sold,
  COALESCE(s.revenue, 0) AS revenue,
  COALESCE(s.orders, 0) AS orders,
  RANK() OVER (PARTITION BY c.category ORDER BY COALESCE(s.revenue, 0) DESC) AS category_rank
FROM catalog AS c
LEFT JOIN sales AS s ON s.product_id = c.product_id
