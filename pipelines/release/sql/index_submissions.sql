-- The accepted, current submissions of every reference month up to $period: what the price index of a release
-- of that month is computed from (its month's and every earlier month's). Grain: one row per submission.
select distinct submission_id
from core.submissions
where report_period <= $period and status = 'accepted'
order by submission_id
