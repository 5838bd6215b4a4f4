-- The enterprise group of each provider with a current accepted report for the month, as the registry stands
-- now (a merger changes the contributors of disclosure control). Grain: one row per provider.
select distinct s.provider_id, p.enterprise_group
from core.submissions as s
join ref.providers as p using (provider_id)
where s.report_period = $period and s.status = 'accepted'
order by all
