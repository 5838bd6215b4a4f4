-- One light pass over a report's text columns before the GX suite: who it is from, which month, and
-- whether its text is within limits. Grain: one row for the file.
select
    count(distinct report_period) as periods,
    min(report_period) as period,
    count(*) filter (where provider_id is distinct from $provider) as foreign_rows,
    min(provider_id) filter (where provider_id is distinct from $provider) as foreign_id,
    greatest(
        max(strlen(report_period)), max(strlen(provider_id)), max(strlen(region_code)),
        max(strlen(compute_region_code)), max(strlen(modality)), max(strlen(customer_type)),
        max(strlen(sector_code)), max(strlen(model_id))
    ) as longest_text,
    count(*) filter (where regexp_matches(model_id, '[^\x20-\x7E]')) as unprintable_rows,
    min(model_id) filter (where regexp_matches(model_id, '[^\x20-\x7E]')) as unprintable_sample
from read_parquet($path)
