-- The accepted, current submissions of a reference month: the inputs of its release.
-- Grain: one row per submission.
select distinct submission_id
from core.submissions
where report_period = $period and status = 'accepted'
order by submission_id
