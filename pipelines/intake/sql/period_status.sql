-- Who reported for a reference month: each expected provider's current standing, plus providers with
-- arrivals that the registry does not expect (registered later, or not at all: an inbox folder nobody
-- registered). Only registered providers count in coverage. Grain: one row per provider.
with expected as (
    select provider_id, true as expected
    from ref.providers
    where active_from <= $period
),

arrivals as (
    select *
    from core.submissions
    where report_period = $period
),

standing as (
    select
        provider_id,
        count(*) as arrivals,
        count(*) filter (where status = 'accepted') > 0 as has_accepted,
        max_by(submission_id, receipt_seq) filter (where status = 'accepted') as accepted_submission,
        max_by(row_count, receipt_seq) filter (where status = 'accepted') as accepted_rows,
        max_by(received_at, receipt_seq) filter (where status = 'accepted') as accepted_at,
        max_by(status, receipt_seq) as latest_status,
        max_by(reason, receipt_seq) as latest_reason,
        max_by(reason_path, receipt_seq) as latest_reason_path,
        max_by(file_name, receipt_seq) as latest_file,
        max_by(received_at, receipt_seq) as latest_at
    from arrivals
    group by provider_id
),

final as (
    select
        provider_id,
        coalesce(e.expected, false) as expected,
        provider_id in (select provider_id from ref.providers) as registered,
        case
            when s.has_accepted then 'reported'
            when s.provider_id is not null then 'rejected'
            else 'missing'
        end as standing,
        s.* exclude (provider_id)
    from expected as e
    full outer join standing as s using (provider_id)
)

select * from final
order by standing desc, provider_id
