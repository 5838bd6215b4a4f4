-- Every cell a release publishes: the measures summed over enterprise groups, and how many groups contribute.
-- Input: the relation `cell_groups` (see cell_groups.sql). Grain: one row per cell (use_type × region_code ×
-- compute_region_code × modality × sector_code); tables of the release are slices of these cells (marts.TABLES).
-- A group contributes to a cell when any of its measures there is non-zero (requests alone count).
select
    use_type,
    region_code,
    compute_region_code,
    modality,
    sector_code,
    sum(columns('_tokens$|^requests$|^settlement_amount$')),
    count(*) filter (
        where total_tokens <> 0 or input_tokens <> 0 or cached_input_tokens <> 0 or output_tokens <> 0
           or requests <> 0 or settlement_amount <> 0
    ) as contributors
from cell_groups
group by all
order by all
