-- Every cell a release publishes, per enterprise group: what disclosure control counts as contributions.
-- Input: the relation `contributions` (see contributions.sql). Grain: one row per cell × enterprise group, the
-- cell keyed by use_type × region_code × compute_region_code × modality × sector_code, where _T is a total and a
-- region may be an economic zone. cells.sql sums these rows into the published cells.
with contributions as (
    select c.*, p.economic_zone
    from contributions as c
    left join ref.provinces as p using (region_code)
),

cube as (  -- final use: region (zones as subtotals) × modality × sector, every subtotal
    select
        'final' as use_type,
        case when grouping(region_code) = 0 then region_code
             when grouping(economic_zone) = 0 then economic_zone
             else '_T' end as region_code,
        '_T' as compute_region_code,
        case when grouping(modality) = 0 then modality else '_T' end as modality,
        case when grouping(sector_code) = 0 then sector_code else '_T' end as sector_code,
        enterprise_group,
        sum(columns('_tokens$|^requests$|^settlement_amount$'))
    from contributions
    where use_type = 'final'
    group by enterprise_group, rollup(economic_zone, region_code), cube(modality, sector_code)
),

flows as (  -- final use: compute province → customer province
    select
        'final' as use_type,
        case when grouping(region_code) = 0 then region_code else '_T' end as region_code,
        case when grouping(compute_region_code) = 0 then compute_region_code else '_T' end as compute_region_code,
        '_T' as modality,
        '_T' as sector_code,
        enterprise_group,
        sum(columns('_tokens$|^requests$|^settlement_amount$'))
    from contributions
    where use_type = 'final'
    group by enterprise_group, cube(compute_region_code, region_code)
),

uses as (  -- final and intermediate (reseller) use
    select
        case when grouping(use_type) = 0 then use_type else '_T' end as use_type,
        '_T' as region_code,
        '_T' as compute_region_code,
        '_T' as modality,
        '_T' as sector_code,
        enterprise_group,
        sum(columns('_tokens$|^requests$|^settlement_amount$'))
    from contributions
    group by enterprise_group, rollup(use_type)
),

final as (  -- a cell shared by two groupings (e.g. a province total) appears once
    select * from cube
    union
    select * from flows
    union
    select * from uses
)

select * from final
