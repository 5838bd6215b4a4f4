-- Exact totals (hugeint) of the count measures of a month's current accepted reports, every provider's but
-- one (the one whose new report would replace its own): the base of the month's bound. Summed from each
-- report's totals, kept by intake, so the bound costs the same whatever the month's size. Grain: one row.
select
    coalesce(sum(t.input_tokens), 0)::hugeint as input_tokens,
    coalesce(sum(t.cached_input_tokens), 0)::hugeint as cached_input_tokens,
    coalesce(sum(t.output_tokens), 0)::hugeint as output_tokens,
    coalesce(sum(t.requests), 0)::hugeint as requests
from core.submissions as s
join core.submission_totals as t using (submission_id)
where s.status = 'accepted' and s.report_period = $report_period and s.provider_id <> $provider_id
