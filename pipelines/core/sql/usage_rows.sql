-- Accepted rows of one report in the warehouse's columns and types (grain: one row per report row), written once
-- to the report's file (pipelines/core/usage_store.py); the empty core.usage of schemas/warehouse.sql has the same.
-- The validation writes them as soon as the suite accepts the report; the load moves that file into place.
-- Columns are taken by name, so the provider's column order and string encodings do not matter.
select
    $submission_id::varchar as submission_id,
    report_period::varchar as report_period,
    provider_id::varchar as provider_id,
    usage_date::date as usage_date,
    region_code::varchar as region_code,
    compute_region_code::varchar as compute_region_code,
    modality::varchar as modality,
    customer_type::varchar as customer_type,
    sector_code::varchar as sector_code,
    model_id::varchar as model_id,
    input_tokens::bigint as input_tokens,
    cached_input_tokens::bigint as cached_input_tokens,
    output_tokens::bigint as output_tokens,
    requests::bigint as requests,
    settlement_amount::decimal(18, 4) as settlement_amount
from read_parquet($path)
