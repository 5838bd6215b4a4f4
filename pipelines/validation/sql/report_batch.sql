-- The report, read once from the provider's file into the table that every later check reads: the identity
-- check, the GX suite, the totals and the warehouse's copy of the rows (validate.py). Reading every value here
-- means a damaged page fails as one clear error, before any rule runs; the table's statistics are DuckDB's own,
-- taken from the values, so the checks after it may trust them (the file's were distrusted for this read).
-- report_key is the hash of the report's key, so key uniqueness is one count-distinct in the scan GX shares
-- with its other checks. Grain: report row.
create table report as
select
    *,
    hash(usage_date, region_code, compute_region_code, modality, customer_type, sector_code, model_id) as report_key
from read_parquet({path})
