-- The estimates of late providers (mart.estimates, by estimate id) as contributions of their enterprise groups,
-- the registry as it stands now: the same columns and grain as contributions.sql, so disclosure control counts
-- an estimate like a report. Grain: one row per use type, customer province, compute province, modality,
-- sector and enterprise group.
select
    e.use_type,
    e.region_code,
    e.compute_region_code,
    e.modality,
    e.sector_code,
    p.enterprise_group,
    sum(e.total_tokens)::hugeint as total_tokens,
    sum(e.input_tokens)::hugeint as input_tokens,
    sum(e.cached_input_tokens)::hugeint as cached_input_tokens,
    sum(e.output_tokens)::hugeint as output_tokens,
    sum(e.requests)::hugeint as requests,
    sum(e.settlement_amount)::decimal(38, 4) as settlement_amount
from mart.estimates as e
join ref.providers as p using (provider_id)
where e.estimate_id in (select unnest($estimates::varchar[]))
group by all
