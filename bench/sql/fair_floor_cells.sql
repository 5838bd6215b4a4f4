-- Fair floor, pass 2 of 2: the published cells of a month from its checked reports, straight from Parquet.
-- Final use only (resellers are intermediate); the region × modality × sector cube with economic zones as
-- region subtotals, and the compute → customer province flows. Grain: one row per published cell.
with usage as (
    select u.*, p.economic_zone
    from read_parquet($files, union_by_name = true) as u
    left join read_csv($provinces_csv) as p on p.region_code::varchar = u.region_code
    where u.customer_type <> 'reseller'
)

select
    region_code, economic_zone, compute_region_code, modality, sector_code,
    sum(input_tokens + output_tokens) as total_tokens,
    sum(input_tokens) as input_tokens,
    sum(cached_input_tokens) as cached_input_tokens,
    sum(output_tokens) as output_tokens,
    sum(requests) as requests,
    sum(settlement_amount) as settlement_amount
from usage
group by grouping sets (  -- the cube: rollup(zone, region) x cube(modality, sector); then the flows
    (economic_zone, region_code, modality, sector_code), (economic_zone, region_code, modality),
    (economic_zone, region_code, sector_code), (economic_zone, region_code),
    (economic_zone, modality, sector_code), (economic_zone, modality), (economic_zone, sector_code), (economic_zone),
    (modality, sector_code), (modality), (sector_code), (),
    (compute_region_code, region_code), (compute_region_code)
)
