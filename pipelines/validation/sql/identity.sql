-- Before the GX suite, over the report's table (report_batch.sql): who it is from, which month, printable
-- model ids. Grain: one row for the file.
select
    count(distinct report_period) as periods,
    min(report_period) as period,
    count(*) filter (where provider_id is distinct from $provider) as foreign_rows,
    min(provider_id) filter (where provider_id is distinct from $provider) as foreign_id,
    count(*) filter (where regexp_matches(model_id, '[^\x20-\x7E]')) as unprintable_rows,
    min(model_id) filter (where regexp_matches(model_id, '[^\x20-\x7E]')) as unprintable_sample
from report
