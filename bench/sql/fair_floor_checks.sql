-- Fair floor, pass 1 of 2: every row rule of the contract over one report, in one scan of every column.
-- Written apart from the pipeline (a yardstick): code lists come straight from schemas/*.csv. Grain: one row
-- per report file, each column a count of rows breaking one rule (all zero for a valid report).
with report as (
    select
        *,
        hash(usage_date, region_code, compute_region_code, modality, customer_type, sector_code, model_id) as row_key
    from read_parquet($path)
)

select
    count(*) as row_count,
    count(distinct report_period) as periods,
    count(*) filter (where report_period is distinct from $period) as other_period,
    count(*) filter (where provider_id is distinct from $provider) as other_provider,
    count(*) filter (
        where usage_date is null or region_code is null or modality is null or customer_type is null
           or model_id is null or input_tokens is null or cached_input_tokens is null or output_tokens is null
           or requests is null or settlement_amount is null
    ) as nulls,
    count(*) filter (where not list_contains($provinces, region_code)) as bad_region,
    count(*) filter (where compute_region_code is not null and not list_contains($provinces, compute_region_code))
        as bad_compute_region,
    count(*) filter (where not list_contains($modalities, modality)) as bad_modality,
    count(*) filter (where not list_contains($customer_types, customer_type)) as bad_customer_type,
    count(*) filter (where sector_code is not null and not list_contains($sectors, sector_code)) as bad_sector,
    count(*) filter (
        where (customer_type in ('enterprise', 'government')) = (sector_code is null)
    ) as sector_rule,
    count(*) filter (
        where not (input_tokens between 0 and 1e15 and cached_input_tokens between 0 and 1e15
                   and output_tokens between 0 and 1e15 and requests between 0 and 1e15
                   and settlement_amount between 0 and 1e13)
    ) as out_of_range,
    count(*) filter (where cached_input_tokens > input_tokens) as cached_over_input,
    count(*) filter (where requests <= 0 and (input_tokens > 0 or output_tokens > 0)) as tokens_without_requests,
    count(*) filter (where length(model_id) not between 1 and 128) as model_id_length,
    count(*) filter (where usage_date not between $period_start and $period_end) as outside_period,
    count(*) - count(distinct row_key) as duplicate_keys
from report
