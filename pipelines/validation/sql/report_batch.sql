-- The batch the GX suite validates: the report's own columns, plus report_key, the hash of its key
-- (so key uniqueness is one count-distinct in the scan GX shares with its other checks). Grain: report row.
create or replace view report as
select
    *,
    hash(usage_date, region_code, compute_region_code, modality, customer_type, sector_code, model_id) as report_key
from read_parquet({path})
