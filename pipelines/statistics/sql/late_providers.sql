-- Late providers of a reference month and how each is estimated (imputation.py): a registered provider with no
-- accepted report for $period (none received, or every one rejected) that has an accepted report in one of the
-- months from $earliest to the month before. Its estimate is its latest such month (the base) scaled by the
-- growth of total tokens, base month to $period, of the providers that reported both months (the trend).
-- Grain: one row per late provider.
with reported as (  -- current accepted reports and their total tokens
    select s.provider_id, s.report_period, s.submission_id, sum(t.total_tokens) as total_tokens
    from core.submissions as s
    left join core.submission_totals as t using (submission_id)  -- kept by intake for every accepted report
    where s.status = 'accepted' and s.report_period between $earliest and $period
    group by all
),

late as (
    select p.provider_id
    from ref.providers as p
    where p.active_from <= $period
      and p.provider_id not in (select provider_id from reported where report_period = $period)
),

base as (  -- each late provider's latest accepted month in the window
    select r.provider_id, r.report_period as base_period, r.submission_id as base_submission_id
    from reported as r
    join late using (provider_id)
    where r.report_period < $period
    qualify row_number() over (partition by r.provider_id order by r.report_period desc) = 1
),

trend as (  -- per base month: growth of the providers that reported in it and in $period
    select
        earlier.report_period as base_period,
        round(sum(now.total_tokens)::double / nullif(sum(earlier.total_tokens), 0), 12) as growth,
        list(now.submission_id order by now.submission_id) as trend_submissions
    from reported as earlier
    join reported as now on now.provider_id = earlier.provider_id and now.report_period = $period
    where earlier.report_period in (select base_period from base)
    group by all
),

final as (
    select
        b.provider_id,
        b.base_period,
        b.base_submission_id,
        coalesce(t.growth, 1.0) as growth,  -- nobody reported both months: carried forward unchanged
        coalesce(t.trend_submissions, []::varchar[]) as trend_submissions
    from base as b
    left join trend as t using (base_period)
)

select * from final order by provider_id
