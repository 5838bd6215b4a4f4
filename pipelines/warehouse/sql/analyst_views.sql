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

create or replace view analyst.about as
select schema_name, view_name, comment
from duckdb_views()
where schema_name = 'analyst' and comment is not null
order by view_name;
comment on view analyst.about is 'This list: the documented views of the snapshot.';
