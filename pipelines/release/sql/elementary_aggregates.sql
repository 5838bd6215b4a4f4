-- Elementary aggregates of the token price index: final use in the submissions $submissions (a release's:
-- the accepted reports of its month and every earlier month, current when it was published), per provider,
-- model and modality, with the provider's enterprise group as the registry stands now (the contributor of
-- disclosure control). Grain: one row per reference month × provider × model × modality. The unit value (yuan
-- per million tokens) is settlement_amount * 10^6 / total_tokens. Read from each report's sales, summed once
-- (mart.item_sales): a publish reads no month's rows but its own, however long the history.
select
    s.report_period,
    s.provider_id,
    s.model_id,
    s.modality,
    p.enterprise_group,
    sum(s.total_tokens)::hugeint as total_tokens,
    sum(s.settlement_amount)::decimal(38, 4) as settlement_amount
from mart.item_sales as s
join ref.providers as p using (provider_id)
where list_contains($submissions, s.submission_id)
group by all
having sum(s.total_tokens) > 0
order by report_period, provider_id, model_id, modality
