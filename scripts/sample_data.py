"""Write the example project's sample data into gcs/ (the local stand-in for Cloud Storage).

Deterministic: the same files every time. Covers 2024-01-01 to 2024-02-29.
Run with `uv run python scripts/sample_data.py`; the output is committed.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent / "gcs" / "shop-landing"
FIRST, DAYS = date(2024, 1, 1), 60


def main() -> None:
    """Regenerate every sample file."""
    shutil.rmtree(ROOT, ignore_errors=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SELECT setseed(0.42)")

    def copy(select: str, path: Path, options: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY ({select}) TO '{path}' ({options})")

    countries = "['DE', 'FR', 'US', 'CA', 'NL', 'GB', 'ES', 'IT']"
    copy(
        f"""SELECT 'C' || lpad(i::TEXT, 4, '0') AS customer_id,
                  'customer' || i || '@example.com' AS email,
                  'First' || i AS first_name, 'Last' || i AS last_name,
                  {countries}[1 + i % 8] AS country_code,
                  DATE '2023-01-01' + (i * 3)::INTEGER AS signup_date,
                  i % 3 = 0 AS marketing_opt_in,
                  TIMESTAMP '2023-12-31 12:00:00' AS updated_at
           FROM range(1, 121) t(i)""",
        ROOT / "customers" / "customers.csv",
        "FORMAT csv, HEADER",
    )
    categories = "['apparel', 'shoes', 'accessories', 'home']"
    copy(
        f"""SELECT 'P' || lpad(i::TEXT, 3, '0') AS product_id, 'SKU-' || i AS sku,
                  'Product ' || i AS name, {categories}[1 + i % 4] AS category,
                  'sub' || (i % 7) AS subcategory, 'Brand' || (i % 5) AS brand,
                  round(5 + (i * 7.3) % 120, 2) AS list_price, i % 11 <> 0 AS is_active,
                  TIMESTAMP '2023-12-31 00:00:00' AS updated_at
           FROM range(1, 41) t(i)""",
        ROOT / "products" / "products.json",
        "FORMAT json",
    )
    statuses = "['placed', 'shipped', 'delivered', 'cancelled', 'returned']"
    channels = "['web', 'app', 'marketplace']"
    for offset in range(DAYS):
        day = FIRST + timedelta(days=offset)
        seed = offset * 1000
        orders = f"""SELECT 'O' || ({seed} + i) AS order_id,
                  'C' || lpad((1 + ({seed} + i * 7) % 120)::TEXT, 4, '0') AS customer_id,
                  {statuses}[1 + ({seed} + i) % 5] AS status,
                  CASE WHEN i % 4 = 0 THEN 'usd' ELSE 'eur' END AS currency,
                  {channels}[1 + i % 3] AS channel,
                  round(10 + ((({seed} + i) * 37) % 400) / 2.0, 2) AS amount,
                  CASE WHEN i % 5 = 0 THEN 5.0 ELSE 0.0 END AS discount_amount,
                  4.9 AS shipping_amount,
                  TIMESTAMP '{day} 00:00:00' + INTERVAL (i * 53) MINUTE AS created_at,
                  TIMESTAMP '{day} 00:00:00' + INTERVAL (i * 53 + 30) MINUTE AS updated_at
           FROM range(1, {12 + offset % 9}) t(i)"""
        copy(orders, ROOT / "orders" / day.isoformat() / "orders.parquet", "FORMAT parquet")
        copy(
            f"""SELECT o.order_id, l.line AS line_number,
                      'P' || lpad(
                        (1 + (length(o.order_id) * 13 + l.line * 7 + {offset}) % 40)::TEXT, 3, '0'
                      ) AS product_id,
                      1 + l.line % 3 AS quantity, round(o.amount / (1 + l.line), 2) AS unit_price,
                      o.updated_at
               FROM ({orders}) AS o, range(1, 3) AS l(line)""",
            ROOT / "order_items" / f"{day.isoformat()}.parquet",
            "FORMAT parquet",
        )
        copy(
            f"""SELECT 'E{offset}-' || i AS event_id, 'S{offset}-' || (i // 4) AS session_id,
                      CASE WHEN i % 9 = 0 THEN 'purchase' WHEN i % 3 = 0 THEN 'add_to_cart'
                           ELSE 'page_view' END AS event_type,
                      CASE WHEN i % 2 = 0 THEN 'mobile' ELSE 'desktop' END AS device_type,
                      TIMESTAMPTZ '{day} 00:00:00+00' + INTERVAL (i * 17) MINUTE AS event_ts
               FROM range(0, 80) t(i)""",
            ROOT / "web_events" / f"dt={day:%Y%m%d}" / "events.json",
            "FORMAT json",
        )
    print(f"wrote {sum(1 for p in ROOT.rglob('*') if p.is_file())} files under {ROOT}")


if __name__ == "__main__":
    main()
