-- Fair floor, pass 2 of 2: the published cells of a month from its checked reports, straight from Parquet.
-- Final use only (resellers are intermediate); the region × modality × sector cube with economic zones as
-- region subtotals, and the compute → customer province flows. Grain: one row per published cell.
with finest as (  -- summed to the finest cell first: the grouping sets then run over a few thousand rows
    select
        region_code, compute_region_code, modality, sector_code,
        sum(input_tokens + output_tokens) as total_tokens,
        sum(input_tokens) as input_tokens,
        sum(cached_input_tokens) as cached_input_tokens,
        sum(output_tokens) as output_tokens,
        sum(requests) as requests,
        sum(settlement_amount) as settlement_amount
    from read_parquet($files, union_by_name = true)
    where customer_type <> 'reseller'
    group by all
),

usage as (
    select f.*, p.economic_zone
    from finest as f
    left join read_csv($provinces_csv, all_varchar = true) as p using (region_code)
)

select
    region_code, economic_zone, compute_region_code, modality, sector_code,
    sum(columns('_tokens$|^requests$|^settlement_amount$'))
from usage
group by grouping sets (  -- the cube: rollup(zone, region) x cube(modality, sector); then the flows
    (economic_zone, region_code, modality, sector_code), (economic_zone, region_code, modality),
    (economic_zone, region_code, sector_code), (economic_zone, region_code),
    (economic_zone, modality, sector_code), (economic_zone, modality), (economic_zone, sector_code), (economic_zone),
    (modality, sector_code), (modality), (sector_code), (),
    (compute_region_code, region_code), (compute_region_code)
)
