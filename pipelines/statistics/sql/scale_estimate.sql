-- One late provider's estimate: its base month's contributions (the relation `base`, see contributions.sql, one
-- provider's report) scaled by $growth, counts rounded to whole units and money to four decimals; total tokens
-- stay input + output. Grain: one row per finest cell (use type, customer province, compute province, modality,
-- sector); columns by name, as mart.estimates takes them.
with scaled as (
    select * exclude (enterprise_group, total_tokens) replace (
        round(input_tokens * $growth::decimal(38, 12))::hugeint as input_tokens,
        round(cached_input_tokens * $growth::decimal(38, 12))::hugeint as cached_input_tokens,
        round(output_tokens * $growth::decimal(38, 12))::hugeint as output_tokens,
        round(requests * $growth::decimal(38, 12))::hugeint as requests,
        round(settlement_amount * $growth::decimal(38, 12), 4)::decimal(38, 4) as settlement_amount
    )
    from base
),

final as (
    select
        $estimate_id as estimate_id,
        $period as reference_period,
        $provider_id as provider_id,
        $base_period as base_period,
        $base_submission_id as base_submission_id,
        $growth::double as growth,
        (select max(receipt_seq) from core.submissions) as made_after,
        input_tokens + output_tokens as total_tokens,
        *
    from scaled
)

select * from final
