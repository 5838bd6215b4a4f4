-- The cells of one reference month as the marts left them (with their flags once protected).
-- Grain: one row per cell.
select *
from mart.cells
where reference_period = $period
order by use_type, region_code, compute_region_code, modality, sector_code
