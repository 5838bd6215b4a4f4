-- One pass over the whole report before the GX suite: who it is from, which month, printable model ids.
-- Hashing every row decodes every value once, so a damaged page fails here, as one clear error, rather than
-- as dozens of rule failures later. Grain: one row for the file.
select
    count(distinct report_period) as periods,
    min(report_period) as period,
    count(*) filter (where provider_id is distinct from $provider) as foreign_rows,
    min(provider_id) filter (where provider_id is distinct from $provider) as foreign_id,
    count(*) filter (where regexp_matches(model_id, '[^\x20-\x7E]')) as unprintable_rows,
    min(model_id) filter (where regexp_matches(model_id, '[^\x20-\x7E]')) as unprintable_sample,
    count(*) filter (where hash(report_row) = 0) as decoded_probe
from read_parquet($path) as report_row
