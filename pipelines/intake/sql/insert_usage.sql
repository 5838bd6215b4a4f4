-- Accepted rows of one report, cast to the warehouse types (grain: one row per report row).
-- Columns are taken by name, so the provider's column order and string encodings do not matter.
insert into core.usage
select
    $submission_id as submission_id,
    report_period,
    provider_id,
    usage_date,
    region_code,
    compute_region_code,
    modality,
    customer_type,
    sector_code,
    model_id,
    input_tokens,
    cached_input_tokens,
    output_tokens,
    requests,
    cast(settlement_amount as decimal(18, 4)) as settlement_amount
from read_parquet($path)
