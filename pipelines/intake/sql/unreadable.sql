-- Rejected files that could not be read far enough to know their reference month, newest first.
-- Grain: one row per arrival.
select provider_id, file_name, received_at, reason, reason_path
from core.submissions
where report_period is null
order by received_at desc
limit $limit
