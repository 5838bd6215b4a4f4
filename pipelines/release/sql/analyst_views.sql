-- Documented views for analysts, created inside each new snapshot (run with the snapshot as default db).
-- Every view reads tables copied from the warehouse; COMMENT ON makes `duckdb_views()` self-describing.
create schema if not exists analyst;

create or replace view analyst.usage as
select
    u.report_period,
    u.usage_date,
    u.provider_id,
    p.name as provider_name,
    p.enterprise_group,
    u.region_code,
    r.name as region_name,
    r.economic_zone,
    u.compute_region_code,
    cr.name as compute_region_name,
    cr.computing_hub,
    u.modality,
    u.customer_type,
    ct.use_type,
    u.sector_code,
    s.name as sector_name,
    u.model_id,
    u.input_tokens,
    u.cached_input_tokens,
    u.output_tokens,
    u.input_tokens + u.output_tokens as total_tokens,
    u.requests,
    u.settlement_amount,
    u.submission_id
from core.current_usage as u
left join ref.providers as p using (provider_id)
left join ref.provinces as r on r.region_code = u.region_code
left join ref.provinces as cr on cr.region_code = u.compute_region_code
left join ref.customer_types as ct on ct.customer_type = u.customer_type
left join ref.sectors as s on s.sector_code = u.sector_code;
comment on view analyst.usage is
    'Current usage: one row per report row of each provider''s accepted, not superseded report, with code-list names.';

create or replace view analyst.submissions as
select * from core.submissions;
comment on view analyst.submissions is
    'The ledger: one row per file received, with status (accepted, rejected, superseded, duplicate) and reason.';

create or replace view analyst.cells as
select * from mart.cells;
comment on view analyst.cells is
    'Every cell of every month last published, unsuppressed, with contributor counts and disclosure flag (internal).';

create or replace view analyst.estimates as
select
    e.reference_period,
    e.provider_id,
    p.name as provider_name,
    p.enterprise_group,
    e.base_period,
    e.growth,
    e.estimate_id,
    e.* exclude (reference_period, provider_id, base_period, growth, estimate_id, base_submission_id),
    e.base_submission_id
from mart.estimates as e
left join ref.providers as p using (provider_id);
comment on view analyst.estimates is
    'Estimates of late providers (imputation), never mixed into analyst.usage: per month, provider and finest cell, its base month scaled by the trend (growth); a release''s manifest lists the estimate_id values it used (inputs.estimates), its cells flag them E (internal).';

create or replace view analyst.by_region as
select * from mart.cells
where use_type = 'final' and compute_region_code = '_T' and modality = '_T' and sector_code = '_T';
comment on view analyst.by_region is 'Final use by customer province and economic zone, by month (internal: unsuppressed).';

create or replace view analyst.by_modality as
select * from mart.cells
where use_type = 'final' and region_code = '_T' and compute_region_code = '_T' and sector_code = '_T';
comment on view analyst.by_modality is 'Final use by modality, by month (internal: unsuppressed).';

create or replace view analyst.by_sector as
select * from mart.cells
where use_type = 'final' and region_code = '_T' and compute_region_code = '_T' and modality = '_T';
comment on view analyst.by_sector is 'Final use by sector, by month (internal: unsuppressed).';

create or replace view analyst.compute_flows as
select * from mart.cells
where use_type = 'final' and modality = '_T' and sector_code = '_T' and compute_region_code <> '_T';
comment on view analyst.compute_flows is 'Final use by compute province and customer province, by month (internal).';

create or replace view analyst.price_relatives as
with items as (  -- the token price index's elementary aggregates: final use per month and item
    select
        u.report_period,
        u.provider_id,
        p.enterprise_group,
        u.model_id,
        u.modality,
        sum(u.input_tokens + u.output_tokens) as total_tokens,
        sum(u.settlement_amount) as settlement_amount
    from core.current_usage as u
    join ref.customer_types as ct using (customer_type)
    left join ref.providers as p using (provider_id)
    where ct.use_type = 'final'
    group by all
    having sum(u.input_tokens + u.output_tokens) > 0
),

priced as (
    select *, settlement_amount * 1e6 / total_tokens as unit_value
    from items
),

final as (
    select
        *,
        lag(unit_value) over item as previous_unit_value,
        lag(report_period) over item as previous_period
    from priced
    window item as (partition by provider_id, model_id, modality order by report_period)
)

select
    report_period,
    provider_id,
    enterprise_group,
    model_id,
    modality,
    total_tokens,
    settlement_amount,
    unit_value,
    -- a relative only between consecutive months: the index matches items month to month
    case when previous_period = strftime(strptime(report_period, '%Y-%m') - interval 1 month, '%Y-%m')
        and previous_unit_value > 0 then unit_value / previous_unit_value end as price_relative
from final;
comment on view analyst.price_relatives is
    'Token price index, elementary level: per month and item (provider, model, modality), final use, the unit value (yuan per million tokens) and its relative to the previous month (internal).';

create or replace view analyst.about as
select schema_name, view_name, comment
from duckdb_views()
where schema_name = 'analyst' and comment is not null
order by view_name;
comment on view analyst.about is 'This list: the documented views of the snapshot.';

-- The published record (read from the releases, not the warehouse; see pipelines/vintages.py).
create or replace view analyst.releases as
select * from record.releases;
comment on view analyst.releases is
    'Every release published: one row per month and version, with status and creation time (UTC).';

create or replace view analyst.vintages as
select v.reference_period, v.version, r.created_at, v.* exclude (reference_period, version)
from record.vintages as v
join record.releases as r using (reference_period, version);
comment on view analyst.vintages is
    'Every published version of every free cell: one row per month, version and cell, with the release''s creation time.';

create or replace view analyst.series as
select v.*
from analyst.vintages as v
semi join (
    select reference_period, max(version) as version from record.releases group by reference_period
) as latest using (reference_period, version);
comment on view analyst.series is
    'The series: every free cell of every month as the latest release of that month published it.';

create or replace macro analyst.as_published(known_at) as table
select v.*
from analyst.vintages as v
semi join (
    select reference_period, max(version) as version
    from record.releases
    where created_at <= known_at
    group by reference_period
) as known using (reference_period, version);
