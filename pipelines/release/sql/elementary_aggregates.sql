-- Elementary aggregates of the token price index: final use in the submissions $submissions (a release's:
-- the accepted reports of its month and every earlier month, current when it was published), per provider,
-- model and modality, with the provider's enterprise group as the registry stands now (the contributor of
-- disclosure control). Grain: one row per reference month × provider × model × modality. The unit value (yuan
-- per million tokens) is settlement_amount * 10^6 / total_tokens.
with current_usage as (
    select * from core.usage where list_contains($submissions, submission_id)
),

final as (
    select
        u.report_period,
        u.provider_id,
        u.model_id,
        u.modality,
        p.enterprise_group,
        sum(u.input_tokens + u.output_tokens)::hugeint as total_tokens,
        sum(u.settlement_amount)::decimal(38, 4) as settlement_amount
    from current_usage as u
    join ref.providers as p using (provider_id)
    join ref.customer_types as ct using (customer_type)
    where ct.use_type = 'final'
    group by all
    having sum(u.input_tokens + u.output_tokens) > 0
)

select * from final
order by report_period, provider_id, model_id, modality
