-- The accepted report received last (in the bureau's receipt order, never the file's own time) of a provider and month is the current one; older accepted
-- reports of that month become superseded (their rows stay in core.usage for audit).
update core.submissions as s
set status = 'superseded', superseded_by = latest.submission_id
from (
    select max_by(submission_id, receipt_seq) as submission_id
    from core.submissions
    where provider_id = $provider_id and report_period = $report_period and status = 'accepted'
) as latest
where s.provider_id = $provider_id
  and s.report_period = $report_period
  and s.status = 'accepted'
  and s.submission_id <> latest.submission_id
