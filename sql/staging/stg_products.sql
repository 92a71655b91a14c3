-- Products, one row per product id, with a normalized category and subcategory.
-- @materialized: view
-- @owners: team:data-platform
-- @tags: layer=staging, domain=catalog
-- @check: not_null(product_id, sku)
-- @check: unique(product_id)
WITH typed AS (
  SELECT
    TRIM(p.product_id) AS product_id,
    UPPER(TRIM(p.sku)) AS sku,
    TRIM(p.name) AS product_name,
    NULLIF(LOWER(TRIM(p.category)), '') AS category,
    NULLIF(LOWER(TRIM(p.subcategory)), '') AS subcategory,
    TRIM(p.brand) AS brand,
    SAFE_CAST(p.list_price AS NUMERIC) AS list_price,
    COALESCE(SAFE_CAST(p.is_active AS BOOL), TRUE) AS is_active,
    SAFE_CAST(p.updated_at AS TIMESTAMP) AS updated_at
  FROM raw.products AS p
)
SELECT
  product_id,
  sku,
  product_name,
  category,
  subcategory,
  brand,
  list_price,
  is_active,
  updated_at
FROM typed
WHERE product_id IS NOT NULL
QUALIFY ROW_NUMBER() OVER (PARTITION BY product_id ORDER BY updated_at DESC) = 1
