-- A provider's current accepted totals for the months before a reference month, by modality.
-- Grain: one row per earlier month and modality (at most $months months back).
with earlier as (
    select submission_id, report_period
    from core.submissions
    where provider_id = $provider_id and status = 'accepted' and report_period < $report_period
    order by report_period desc
    limit $months
)

select e.report_period, t.total_tokens, t.settlement_amount, t.modality
from earlier as e
join core.submission_totals as t using (submission_id)
order by e.report_period, t.modality
