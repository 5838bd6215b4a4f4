-- TokenStats warehouse (DuckDB): reference tables, the submission ledger and accepted usage rows.
-- Idempotent: every statement can run against an existing warehouse.

create schema if not exists ref;
create schema if not exists core;

-- Code lists (schemas/*.csv) and the provider registry, reloaded on every ingest.
create table if not exists ref.provinces (
    region_code varchar primary key,
    name varchar not null,
    name_zh varchar not null,
    economic_zone varchar not null,
    computing_hub varchar
);
create table if not exists ref.economic_zones (zone_code varchar primary key, name varchar, name_zh varchar);
create table if not exists ref.sectors (
    sector_code varchar primary key, name varchar, name_zh varchar, in_reports boolean
);
create table if not exists ref.modalities (modality varchar primary key, name varchar, name_zh varchar);
create table if not exists ref.customer_types (
    customer_type varchar primary key, name varchar, name_zh varchar, use_type varchar, sector_rule varchar
);
create table if not exists ref.providers (
    provider_id varchar primary key,
    name varchar not null,
    enterprise_group varchar not null,
    registered_province varchar not null,
    active_from varchar not null
);

-- The ledger: one row per file received. submission_id is the sha256 of the bytes.
create table if not exists core.submissions (
    submission_id varchar not null,
    provider_id varchar not null,
    report_period varchar,                 -- null when the file could not be read
    file_name varchar not null,            -- as received in the provider's inbox folder
    size_bytes bigint not null,
    row_count bigint,
    received_at timestamptz not null,      -- the file's modification time: information only (the sender sets it)
    status varchar not null check (status in ('accepted', 'rejected', 'superseded', 'duplicate')),
    reason varchar,                        -- one line for people; the full list is in reason_path
    reason_path varchar,                   -- reason.json beside the quarantined file
    docs_path varchar,                     -- GX Data Docs page of the validation
    stored_path varchar,                   -- where the bytes are kept (archive or quarantine)
    superseded_by varchar,
    contract_version varchar not null,
    primary key (submission_id, provider_id, file_name, received_at)
);
-- The bureau's receipt order (ingest.py): what supersession and "latest" go by. Ledgers from before it was
-- kept are ordered by their modification time, as they were then.
alter table core.submissions add column if not exists receipt_seq bigint;
update core.submissions set receipt_seq = epoch_ns(received_at) where receipt_seq is null;

-- Per submission and modality: the figures the plausibility checks compare month on month.
create table if not exists core.submission_totals (
    submission_id varchar not null,
    modality varchar not null,
    row_count bigint not null,
    total_tokens hugeint not null,
    settlement_amount decimal(38, 4) not null,
    primary key (submission_id, modality)
);

-- Accepted report rows, superseded ones included (for audit); current figures join core.submissions. The rows
-- live in one Parquet file per accepted report, written once when it is loaded (pipelines/core/usage_store.py,
-- the columns and types of pipelines/core/sql/usage_rows.sql); this view names every loaded report's file.
-- Its shape before any report is loaded (a warehouse from before the files still has its table: moved at opening):
create view if not exists core.usage as
select * from (values (
    null::varchar, null::varchar, null::varchar, null::date, null::varchar, null::varchar, null::varchar,
    null::varchar, null::varchar, null::varchar, null::bigint, null::bigint, null::bigint, null::bigint,
    null::decimal(18, 4)  -- the contract caps a row at 10^13 yuan: 18 digits suffice
)) as t(
    submission_id, report_period, provider_id, usage_date, region_code, compute_region_code, modality,
    customer_type, sector_code, model_id, input_tokens, cached_input_tokens, output_tokens, requests,
    settlement_amount
)
where false;

-- core.submission_totals keeps each count's exact total too: the month's bound (validate.check_month_bound)
-- adds these up instead of reading the month's accepted rows again for every new report. Filled in once for
-- ledgers from before they were kept (a no-op afterwards: no null rows, nothing read).
alter table core.submission_totals add column if not exists input_tokens hugeint;
alter table core.submission_totals add column if not exists cached_input_tokens hugeint;
alter table core.submission_totals add column if not exists output_tokens hugeint;
alter table core.submission_totals add column if not exists requests hugeint;
update core.submission_totals as t
set input_tokens = u.input_tokens, cached_input_tokens = u.cached_input_tokens, output_tokens = u.output_tokens,
    requests = u.requests
from (
    select
        submission_id,
        modality,
        sum(input_tokens)::hugeint as input_tokens,
        sum(cached_input_tokens)::hugeint as cached_input_tokens,
        sum(output_tokens)::hugeint as output_tokens,
        sum(requests)::hugeint as requests
    from core.usage
    where submission_id in (select submission_id from core.submission_totals where requests is null)
    group by all
) as u
where t.submission_id = u.submission_id and t.modality = u.modality;

-- Current figures: rows of each provider's accepted (not superseded) report for each month.
create or replace view core.current_usage as
select u.*
from core.usage as u
join core.submissions as s using (submission_id)
where s.status = 'accepted';

-- What the disclosure audit of each month's latest protection proved (the manifest's certificate).
create schema if not exists mart;
create table if not exists mart.certificates (reference_period varchar primary key, certificate json not null);

-- Estimates of late providers (pipelines/statistics/imputation.py), never mixed into core.usage: a registered
-- provider without an accepted report for a month it is published, estimated from its latest accepted month
-- scaled by the trend of the providers that reported both months. Kept by estimate_id (a hash of everything
-- it depends on), so every release can name the estimates it used (manifest inputs.estimates) and an earlier
-- version's figures can be recomputed. While the provider stays late on the same base, its first estimate is
-- kept (made_after): others' corrections do not move it. Grain: one row per estimate and finest cell.
create table if not exists mart.estimates (
    estimate_id varchar not null,
    reference_period varchar not null,
    provider_id varchar not null,
    base_period varchar not null,          -- the provider's month carried forward
    base_submission_id varchar not null,
    growth double not null,                -- total tokens, base month to reference month, of providers in both
    made_after bigint,                     -- the last receipt_seq of the ledger when made: the first one is kept
    use_type varchar not null,
    region_code varchar not null,
    compute_region_code varchar not null,  -- _X: not reported
    modality varchar not null,
    sector_code varchar not null,          -- HH: households; _X: not reported
    total_tokens hugeint not null,
    input_tokens hugeint not null,
    cached_input_tokens hugeint not null,
    output_tokens hugeint not null,
    requests hugeint not null,
    settlement_amount decimal(38, 4) not null
);

-- Each loaded report's final-use sales per item (model x modality), summed once: a report is immutable, so the
-- token price index's elementary aggregates (pipelines/release/sql/elementary_aggregates.sql) add these up
-- instead of reading every month's rows again at every publish. Filled in by price_index.elementary_aggregates
-- for reports it has not summed yet (release/sql/item_sales.sql). Grain: one row per report and item.
create table if not exists mart.item_sales (
    submission_id varchar not null,
    report_period varchar not null,
    provider_id varchar not null,
    model_id varchar not null,
    modality varchar not null,
    total_tokens hugeint not null,
    settlement_amount decimal(38, 4) not null,
    primary key (submission_id, model_id, modality)
);
