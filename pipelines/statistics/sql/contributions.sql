-- Contributions: the usage of one reference month in the given submissions (a release's inputs), summed to
-- the finest cell every published table is built from, per enterprise group (the contributor of disclosure
-- control) as the registry stands now. Grain: one row per use type, customer province, compute province,
-- modality, sector and enterprise group. The only scan of core.usage for a release; every table is a grouping
-- of these rows. Earlier versions of a month are recomputed the same way from their manifests' submissions.
with usage as (
    select * from core.usage
    where report_period = $period and submission_id in (select unnest($submissions::varchar[]))
),

attributed as (
    select
        ct.use_type,
        u.region_code,
        coalesce(u.compute_region_code, '_X') as compute_region_code,  -- _X: not reported (SDMX)
        u.modality,
        case when u.customer_type = 'individual' then 'HH' else coalesce(u.sector_code, '_X') end as sector_code,
        p.enterprise_group,
        u.input_tokens,
        u.cached_input_tokens,
        u.output_tokens,
        u.requests,
        u.settlement_amount
    from usage as u
    join ref.providers as p using (provider_id)
    join ref.customer_types as ct using (customer_type)
),

final as (
    select
        use_type,
        region_code,
        compute_region_code,
        modality,
        sector_code,
        enterprise_group,
        sum(input_tokens + output_tokens)::hugeint as total_tokens,
        sum(input_tokens)::hugeint as input_tokens,
        sum(cached_input_tokens)::hugeint as cached_input_tokens,
        sum(output_tokens)::hugeint as output_tokens,
        sum(requests)::hugeint as requests,
        sum(settlement_amount)::decimal(38, 4) as settlement_amount
    from attributed
    group by all
)

select * from final
