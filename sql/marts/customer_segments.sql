-- Value segments of opted-in customers, for CRM campaigns; always current.
-- @materialized: view
-- @owners: team:crm
-- @tags: layer=mart, domain=customers, pii
-- @check: unique(customer_id)
-- @check: accepted_values(segment, ['champion', 'loyal', 'promising', 'at_risk', 'prospect'])
SELECT
  customer_id,
  email,
  region,
  lifecycle_stage,
  lifetime_orders,
  lifetime_revenue,
  NTILE(4) OVER (ORDER BY lifetime_revenue DESC) AS revenue_quartile,
  CASE
    WHEN lifecycle_stage = 'prospect' THEN 'prospect'
    WHEN lifecycle_stage = 'lapsed' THEN 'at_risk'
    WHEN lifetime_orders >= 5 AND lifetime_revenue >= 500 THEN 'champion'
    WHEN lifetime_orders >= 2 THEN 'loyal'
    ELSE 'promising'
  END AS segment
FROM marts.customers
WHERE marketing_opt_in
