-- Exact totals (hugeint) of the count measures of a month's current accepted reports, every provider's but
-- one (the one whose new report would replace its own): the base of the month's bound. Grain: one row.
select
    coalesce(sum(input_tokens), 0)::hugeint as input_tokens,
    coalesce(sum(cached_input_tokens), 0)::hugeint as cached_input_tokens,
    coalesce(sum(output_tokens), 0)::hugeint as output_tokens,
    coalesce(sum(requests), 0)::hugeint as requests
from core.current_usage
where report_period = $report_period and provider_id <> $provider_id
